w
"servelj
h
 
__inference_serving_default_772
StatefulPartitionedCallStatefulPartitionedCall
SaveV2SaveV2