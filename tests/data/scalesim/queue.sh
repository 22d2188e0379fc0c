#!/bin/bash
# args: queue id, then list of "topo kind rows cols"
q=$1; shift
for spec in "$@"; do
  set -- $spec
  for df in os ws is; do
    /tmp/scalesim-venv/bin/python -W ignore run_golden.py $1 $2 $3 $4 $df /tmp/ssgold/golden_q$q.csv >> /tmp/ssgold/q$q.log 2>&1
  done
done
echo QDONE >> /tmp/ssgold/q$q.log
