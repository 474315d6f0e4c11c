# SPDX-License-Identifier: Apache-2.0
"""The reference Python yardstick of `pnpm bench`: hashes a model with the
`model_signing` package's own hashing (its default thread pool), as a whole
process, and prints the number of manifest entries.

    python3 scripts/bench/ref-hash.py MODEL [--shard-size N]

Without --shard-size: file serialization (one digest per file); with it:
shard serialization with shards of N bytes. sha256 only.
"""

import sys

from model_signing import hashing


def main(argv):
    if len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--shard-size"):
        print("usage: ref-hash.py MODEL [--shard-size N]", file=sys.stderr)
        return 2
    config = hashing.Config()
    if len(argv) == 3:
        config.use_shard_serialization(
            hashing_algorithm="sha256", shard_size=int(argv[2])
        )
    else:
        config.use_file_serialization(hashing_algorithm="sha256")
    manifest = config.hash(argv[0])
    entries = getattr(manifest, "resource_descriptors", None)
    count = len(list(entries())) if callable(entries) else "?"
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
