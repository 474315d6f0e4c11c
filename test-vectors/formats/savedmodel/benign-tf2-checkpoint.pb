Ä
"serve¸

saver_filenamePlaceholder
2
StatefulPartitionedCallStatefulPartitionedCallâ
›

__inference__traced_save_1234
SaveV2SaveV2

StringJoin
StringJoin"
ShardedFilenameShardedFilename(
MergeV2CheckpointsMergeV2Checkpoints
R
"
 __inference__traced_restore_1299
	RestoreV2	RestoreV2
IdentityIdentity
n
 
__inference_serving_default_772
StatefulPartitionedCallStatefulPartitionedCall
dense/MatMulMatMul