#!/bin/sh
# Container entrypoint: runs the trainer named by the first argument, else by $TRAINER.
#   train_torch.py [ARGS]    python $TRAINER_DIR/train_torch.py ARGS (or that path, if it exists)
#   any other command        run as given, e.g. "python -m mypkg.train --epochs 5"
# exec keeps the trainer as the process that receives SIGTERM from Batch.
set -eu
TRAINER_DIR="${TRAINER_DIR:-/opt/hpo/trainers}"
if [ "$#" -eq 0 ]; then
    set -- "${TRAINER:-train_torch.py}"
fi
case "$1" in
    *.py)
        script="$1"
        shift
        if [ ! -f "$script" ] && [ -f "$TRAINER_DIR/$script" ]; then
            script="$TRAINER_DIR/$script"
        fi
        exec python "$script" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
