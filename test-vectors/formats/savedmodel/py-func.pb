Å
"servevt
r
 
__inference_serving_default_772
StatefulPartitionedCallStatefulPartitionedCall
EagerPyFuncEagerPyFunc