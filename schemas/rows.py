"""The row contract shared by every data stage.

Every data file between stages is Parquet with at least these columns. Stages
add columns (`dup_cluster`, `split`, `origin_id`...) and never rename these.
"""

from __future__ import annotations

import pyarrow as pa

ROW_FIELDS = (
    pa.field("id", pa.string(), nullable=False),  # stable hash of source and content: the join key
    pa.field("text", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=True),
    pa.field("source", pa.string(), nullable=False),
)
ROW_COLUMNS = tuple(f.name for f in ROW_FIELDS)

# Every rejects file has these columns, whatever the stage: a reviewer reads them all the same way.
REJECT_FIELDS = (
    pa.field("stage", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=True),
    pa.field("location", pa.string(), nullable=True),  # 'line 12', 'row 3', a file path...
    pa.field("id", pa.string(), nullable=True),
    pa.field("detail", pa.string(), nullable=True),
    pa.field("raw", pa.string(), nullable=True),  # what was read, so nothing is lost
)
