õ
"serveèå
õ

__inference__traced_save_1234
SaveV2SaveV2

StringJoin
StringJoin"
ShardedFilenameShardedFilename(
MergeV2CheckpointsMergeV2Checkpoints
l
 
__inference_serving_default_772
StatefulPartitionedCallStatefulPartitionedCall
ReadFileReadFile