|
"serveqo
m
 
__inference_serving_default_772
StatefulPartitionedCallStatefulPartitionedCall
globMatchingFiles