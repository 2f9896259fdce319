"""GLUE loading (real SST-2/RTE files, synthetic folders with the format's quirks), label order, tokenisation."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from conftest import tiny_teacher_config
from datasets import ClassLabel, Dataset, DatasetDict
from shared_data import shared_data_dir
from transformers import BertConfig, BertForSequenceClassification
from transformers.utils import logging as hf_logging

from hf_tinybert.data import (
    GLUE_TASKS,
    GlueTask,
    check_label_order,
    get_glue_task,
    label_config_kwargs,
    load_glue,
    tokenize_glue,
)

GLUE_DIR = shared_data_dir() / "glue"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("datasets_cache"))


@pytest.fixture
def propagate_logs():
    hf_logging.enable_propagation()
    yield
    hf_logging.disable_propagation()


def write(path, text, bom=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def raw_rows(path):
    """The fields of every data line of a TSV file, split on tabs only (no quoting)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines[1:] if line]


# ----------------------------------------------------------------------------------------------------------
# Task table
# ----------------------------------------------------------------------------------------------------------


def test_task_table_matches_hub_glue():
    assert set(GLUE_TASKS) == {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli"}
    assert GLUE_TASKS["mnli"].label_names == ("entailment", "neutral", "contradiction")
    assert GLUE_TASKS["mnli"].text_columns == ("premise", "hypothesis")
    assert GLUE_TASKS["mnli"].eval_splits == ("validation_matched", "validation_mismatched")
    assert GLUE_TASKS["wnli"].label_names == ("not_entailment", "entailment")
    assert GLUE_TASKS["stsb"].is_regression and GLUE_TASKS["stsb"].num_labels == 1
    assert GLUE_TASKS["qqp"].text_columns == ("question1", "question2")
    assert GLUE_TASKS["cola"].metric_keys == ("matthews_correlation",)
    assert GLUE_TASKS["mrpc"].metric_keys == ("accuracy", "f1")
    assert GLUE_TASKS["stsb"].metric_keys == ("pearson", "spearmanr")
    assert GLUE_TASKS["sst2"].eval_splits == ("validation",)
    assert get_glue_task("SST2") is GLUE_TASKS["sst2"]


def test_unknown_task_lists_valid_tasks():
    with pytest.raises(ValueError, match="unknown GLUE task 'sst'.*sst2.*mnli"):
        get_glue_task("sst")
    with pytest.raises(ValueError, match="unknown GLUE task"):
        load_glue("mnli-mm", data_dir=GLUE_DIR)


def test_custom_task_is_validated():
    with pytest.raises(ValueError, match="1 or 2 text columns"):
        GlueTask(name="x", text_columns=("a", "b", "c"), label_names=("n", "p"))
    with pytest.raises(ValueError, match="repeat a name"):
        GlueTask(name="x", text_columns=("a",), label_names=("n", "n"))


# ----------------------------------------------------------------------------------------------------------
# Real files
# ----------------------------------------------------------------------------------------------------------


def test_sst2_real_files(cache_dir):
    ds = load_glue("sst2", data_dir=GLUE_DIR, cache_dir=cache_dir)
    assert isinstance(ds, DatasetDict) and set(ds) == {"train", "validation"}
    dev = ds["validation"]
    assert dev.column_names == ["sentence", "label", "idx"]
    assert dev.features["label"].names == ["negative", "positive"]
    assert (len(ds["train"]), len(dev)) == (67349, 872)
    assert (dev["label"].count(0), dev["label"].count(1)) == (428, 444)
    assert (ds["train"]["label"].count(0), ds["train"]["label"].count(1)) == (29780, 37569)
    assert dev[0] == {"sentence": "it 's a charming and often affecting journey . ", "label": 1, "idx": 0}
    assert dev["sentence"] == [fields[0] for fields in raw_rows(GLUE_DIR / "SST-2" / "dev.tsv")]


def test_rte_real_files_keep_quotes(cache_dir):
    dev = load_glue("rte", data_dir=GLUE_DIR, split="validation", cache_dir=cache_dir)
    assert isinstance(dev, Dataset)
    assert dev.column_names == ["sentence1", "sentence2", "label", "idx"]
    rows = raw_rows(GLUE_DIR / "RTE" / "dev.tsv")
    assert len(dev) == len(rows) == 277
    assert dev["sentence1"] == [r[1] for r in rows] and dev["sentence2"] == [r[2] for r in rows]
    names = dev.features["label"].names
    assert names == ["entailment", "not_entailment"]
    assert [names[i] for i in dev["label"]] == [r[3] for r in rows]
    assert (dev["label"].count(0), dev["label"].count(1)) == (146, 131)
    assert any('"' in s for s in list(dev["sentence1"]) + list(dev["sentence2"]))  # fields with quotes survived
    train = load_glue("rte", data_dir=GLUE_DIR / "RTE", split="train", cache_dir=cache_dir)  # a task folder works too
    assert (train["label"].count(0), train["label"].count(1)) == (1249, 1241)


def test_directory_without_the_task_lists_found_tasks():
    with pytest.raises(ValueError, match=r"no folder 'CoLA' for task 'cola'.*task folders: RTE, SST-2"):
        load_glue("cola", data_dir=GLUE_DIR)


def test_missing_directory_and_split_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_glue("sst2", data_dir=tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"test\.tsv.*does not exist; the folder holds: dev\.tsv, train\.tsv"):
        load_glue("sst2", data_dir=GLUE_DIR, split="test")
    write(tmp_path / "SST-2" / "notes.txt", "x")
    with pytest.raises(FileNotFoundError, match=r"holds none of the files.*it holds: notes\.txt"):
        load_glue("sst2", data_dir=tmp_path)


def test_unknown_split_fails_before_any_download():
    # No network here: this must fail on the split name, naming the valid ones, before touching the Hub.
    with pytest.raises(ValueError, match="unknown split 'validation' for task 'mnli'.*validation_matched"):
        load_glue("mnli", split="validation")
    with pytest.raises(ValueError, match="unknown split 'dev'.*train, validation, test"):
        load_glue("sst2", data_dir=GLUE_DIR, split="dev")


# ----------------------------------------------------------------------------------------------------------
# Synthetic GLUE-format folders with the format's quirks
# ----------------------------------------------------------------------------------------------------------


def test_cola_without_header(tmp_path, cache_dir):
    write(
        tmp_path / "CoLA" / "train.tsv",
        "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.\n"
        'gj04\t0\t*\tThe "more" we study verbs, the crazier they get.\n'
        "cj99\t1\t\tDay by day the facts are getting murkier.\n",
    )
    write(tmp_path / "CoLA" / "test.tsv", 'index\tsentence\n0\tBill whistled past the house.\n1\tA "b" c.\n')
    ds = load_glue("cola", data_dir=tmp_path, cache_dir=cache_dir)
    train, test = ds["train"], ds["test"]
    assert len(train) == 3  # the first line is data, not a header
    assert train["sentence"][1] == 'The "more" we study verbs, the crazier they get.'
    assert train["label"] == [1, 0, 1]
    assert train.features["label"].names == ["unacceptable", "acceptable"]
    assert test["sentence"] == ["Bill whistled past the house.", 'A "b" c.'] and test["label"] == [-1, -1]


def test_mrpc_with_bom_and_stsb_scores(tmp_path, cache_dir):
    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    write(
        tmp_path / "MRPC" / "dev.tsv",
        header + '1\t1\t2\tHe said "yes" .\tHe agreed .\n0\t3\t4\tIt rained .\tThe sun shone .\n',
        bom=True,
    )
    dev = load_glue("mrpc", data_dir=tmp_path, split="validation", cache_dir=cache_dir)
    assert dev["sentence1"] == ['He said "yes" .', "It rained ."] and dev["sentence2"] == [
        "He agreed .",
        "The sun shone .",
    ]
    assert dev["label"] == [1, 0]
    sts_header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    write(
        tmp_path / "STS-B" / "train.tsv",
        sts_header + "0\tmain\tf\t2012\t1\tnone\tnone\tA plane takes off.\tAn air plane is taking off.\t5.000\n"
        "1\tmain\tf\t2012\t4\tnone\tnone\tA man plays a flute.\tA man plays a bamboo flute.\t3.800\n",
    )
    train = load_glue("stsb", data_dir=tmp_path, split="train", cache_dir=cache_dir)
    assert train.features["label"].dtype == "float32"
    assert train["label"] == pytest.approx([5.0, 3.8])


def test_mnli_matched_and_mismatched(tmp_path, cache_dir):
    header = (
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
        "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
    )

    def line(i, premise, hypothesis, gold):
        return f"{i}\tp\tq\tfiction\t(x)\t(y)\t(X)\t(Y)\t{premise}\t{hypothesis}\t{gold}\t{gold}\n"

    folder = tmp_path / "MNLI"
    write(
        folder / "train.tsv",
        header + line(0, 'He said "no".', "He refused.", "entailment") + line(1, "A", "B", "neutral"),
    )
    write(folder / "dev_matched.tsv", header + line(0, "Cats sleep.", "Cats never sleep.", "contradiction"))
    write(folder / "dev_mismatched.tsv", header + line(0, "It is red.", "It has a colour.", "entailment"))
    ds = load_glue("mnli", data_dir=tmp_path, cache_dir=cache_dir)
    assert list(ds) == ["train", "validation_matched", "validation_mismatched"]
    assert ds["train"].column_names == ["premise", "hypothesis", "label", "idx"]
    assert ds["train"]["premise"] == ['He said "no".', "A"]
    assert ds["train"]["label"] == [0, 1]
    assert ds["validation_matched"]["label"] == [2]  # contradiction is id 2, as on the Hub
    assert ds["validation_mismatched"]["hypothesis"] == ["It has a colour."]


def test_malformed_lines_are_skipped_with_a_warning(tmp_path, cache_dir, propagate_logs, caplog):
    header = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
    write(
        tmp_path / "QQP" / "train.tsv",
        header + "0\t1\t2\tHow?\tWhy?\t0\n1\t3\t4\tbroken line without all fields\n2\t5\t6\tWho?\tWhom?\t1\n",
    )
    with caplog.at_level(logging.WARNING):
        train = load_glue("qqp", data_dir=tmp_path, split="train", cache_dir=cache_dir)
    assert train["question1"] == ["How?", "Who?"] and train["label"] == [0, 1] and train["idx"] == [0, 2]
    assert "skipped 1 malformed line(s)" in caplog.text and "[3]" in caplog.text


def test_labels_outside_the_label_set_are_named(tmp_path, cache_dir):
    write(tmp_path / "RTE" / "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tmaybe\n")
    with pytest.raises(ValueError, match=r"labels outside the label set of task 'rte': 'maybe'.*entailment"):
        load_glue("rte", data_dir=tmp_path, split="train", cache_dir=cache_dir)
    write(tmp_path / "SST-2" / "train.tsv", "sentence\tlabel\ngood \t1\nbad \t2\n")
    with pytest.raises(ValueError, match=r"'2'"):
        load_glue("sst2", data_dir=tmp_path, split="train", cache_dir=cache_dir)


def test_missing_label_column_and_empty_file(tmp_path, cache_dir):
    write(tmp_path / "SST-2" / "train.tsv", "sentence\tscore\ngood \t1\n")
    with pytest.raises(ValueError, match=r"missing label column 'label'.*\['sentence', 'score'\]"):
        load_glue("sst2", data_dir=tmp_path, split="train", cache_dir=cache_dir)
    write(tmp_path / "SST-2" / "dev.tsv", "")
    with pytest.raises(ValueError, match="is empty"):
        load_glue("sst2", data_dir=tmp_path, split="validation", cache_dir=cache_dir)
    write(tmp_path / "SST-2" / "dev.tsv", "sentence\tlabel\n\n")
    with pytest.raises(ValueError, match="no usable rows"):
        load_glue("sst2", data_dir=tmp_path, split="validation", cache_dir=cache_dir)


def test_edited_file_is_read_again(tmp_path, cache_dir):
    path = write(tmp_path / "SST-2" / "train.tsv", "sentence\tlabel\ngood \t1\n")
    assert load_glue("sst2", data_dir=tmp_path, split="train", cache_dir=cache_dir)["label"] == [1]
    write(path, "sentence\tlabel\ngood \t0\nfine \t1\n")
    assert load_glue("sst2", data_dir=tmp_path, split="train", cache_dir=cache_dir)["label"] == [0, 1]


# ----------------------------------------------------------------------------------------------------------
# CSV / JSON / JSONL files
# ----------------------------------------------------------------------------------------------------------


def test_csv_and_jsonl_files_with_named_columns(tmp_path, cache_dir):
    csv_path = write(tmp_path / "train.csv", 'review,stars\n"good, really ""good""",positive\nbad,0\n')
    jsonl_path = write(
        tmp_path / "dev.jsonl",
        "\n".join(json.dumps(r) for r in [{"review": "ok", "stars": 1}, {"review": "no", "stars": "0"}]),
    )
    ds = load_glue(
        "sst2",
        data_files={"train": csv_path, "validation": jsonl_path},
        text_columns=["review"],
        label_column="stars",
        cache_dir=cache_dir,
    )
    assert ds["train"]["sentence"] == ['good, really "good"', "bad"] and ds["train"]["label"] == [1, 0]
    assert ds["validation"]["label"] == [1, 0]
    assert isinstance(ds["train"].features["label"], ClassLabel)


def test_json_file_for_a_custom_task(tmp_path, cache_dir):
    task = GlueTask(name="topics", text_columns=("text",), label_names=("sport", "tech", "politics"))
    path = write(
        tmp_path / "topics.json", json.dumps([{"text": "goal!", "label": "sport"}, {"text": "vote", "label": 2}])
    )
    train = load_glue(task, data_files=path, split="train", cache_dir=cache_dir)
    assert train["text"] == ["goal!", "vote"] and train["label"] == [0, 2]
    assert load_glue(task, data_files=path, text_columns="text", split="train", cache_dir=cache_dir)["text"] == [
        "goal!",
        "vote",
    ]
    assert train.features["label"].names == ["sport", "tech", "politics"]


def test_data_file_errors(tmp_path, cache_dir):
    path = write(
        tmp_path / "train.jsonl", '{"sentence1": "a", "sentence2": "b", "label": "entailment"}\n{"sentence1": "c"}\n'
    )
    with pytest.raises(ValueError, match=r"missing column 'sentence2' \(record at line/position 2\).*\['sentence1'\]"):
        load_glue("rte", data_files=path, cache_dir=cache_dir)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_glue("rte", data_files=tmp_path / "missing.csv", cache_dir=cache_dir)
    with pytest.raises(ValueError, match="split 'test' is not in data_files; it has: train"):
        load_glue("rte", data_files={"train": path}, split="test", cache_dir=cache_dir)
    with pytest.raises(ValueError, match="needs 2 text column"):
        load_glue("rte", data_files=path, text_columns=["sentence1"], cache_dir=cache_dir)
    with pytest.raises(ValueError, match="not both"):
        load_glue("rte", data_dir=GLUE_DIR, data_files=path)
    bad = write(tmp_path / "train.parquet", "x")
    with pytest.raises(
        ValueError, match=r"unsupported file type '\.parquet'; supported: \.csv, \.tsv, \.json, \.jsonl"
    ):
        load_glue("rte", data_files=bad, cache_dir=cache_dir)
    nan = write(tmp_path / "scores.csv", "sentence1,sentence2,label\na,b,nan\nc,d,x\n")
    with pytest.raises(ValueError, match=r"labels outside.*'nan'.*'x'.*a number"):
        load_glue("stsb", data_files=nan, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------------------------------
# Label order
# ----------------------------------------------------------------------------------------------------------


def test_label_config_kwargs_round_trip(tmp_path):
    config = BertConfig(**label_config_kwargs("mnli"))
    assert config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert config.label2id == {"entailment": 0, "neutral": 1, "contradiction": 2}
    config.save_pretrained(tmp_path)
    check_label_order("mnli", BertConfig.from_pretrained(tmp_path))
    stsb = BertConfig(**label_config_kwargs("stsb"))
    assert stsb.num_labels == 1 and stsb.problem_type == "regression"
    check_label_order("stsb", stsb)


def test_check_label_order_rejects_the_official_code_mnli_order():
    # The official TinyBERT code hard-codes ["contradiction", "entailment", "neutral"] (issue #229).
    teacher = BertConfig(id2label={0: "contradiction", 1: "entailment", 2: "neutral"})
    with pytest.raises(ValueError) as err:
        check_label_order("mnli", teacher)
    message = str(err.value)
    assert "['contradiction', 'entailment', 'neutral']" in message
    assert "['entailment', 'neutral', 'contradiction']" in message


def test_check_label_order_accepts_case_and_placeholders(propagate_logs, caplog):
    check_label_order(["negative", "positive"], BertConfig(id2label={0: "NEGATIVE", 1: "POSITIVE"}))
    with caplog.at_level(logging.WARNING):
        check_label_order("sst2", BertConfig(num_labels=2))  # LABEL_0, LABEL_1: cannot be checked
    assert "cannot be checked" in caplog.text
    with pytest.raises(ValueError, match=r"the model has 2 labels.*task has 3"):
        check_label_order("mnli", BertConfig(num_labels=2))
    with pytest.raises(ValueError, match="regression.*num_labels=2"):
        check_label_order(None, BertConfig(num_labels=2))
    with pytest.raises(ValueError, match="label order mismatch"):
        check_label_order("wnli", BertConfig(id2label={0: "entailment", 1: "not_entailment"}))


# ----------------------------------------------------------------------------------------------------------
# Tokenisation
# ----------------------------------------------------------------------------------------------------------


def test_tokenize_pairs_matches_the_tokenizer_and_is_cached(tiny_tokenizer, cache_dir):
    ds = DatasetDict(validation=load_glue("rte", data_dir=GLUE_DIR, split="validation", cache_dir=cache_dir))
    tokenized = tokenize_glue(ds, tiny_tokenizer, "rte", max_length=48)
    dev = tokenized["validation"]
    assert dev.column_names == ["input_ids", "attention_mask", "token_type_ids", "labels"]
    assert dev["labels"] == ds["validation"]["label"]
    assert max(len(ids) for ids in dev["input_ids"]) == 48
    row = ds["validation"][5]
    expected = tiny_tokenizer(row["sentence1"], row["sentence2"], truncation=True, max_length=48)
    assert dev[5]["input_ids"] == expected["input_ids"]
    assert dev[5]["token_type_ids"] == expected["token_type_ids"] and 1 in dev[5]["token_type_ids"]
    again = tokenize_glue(ds, tiny_tokenizer, "rte", max_length=48)
    assert again["validation"].cache_files == dev.cache_files  # read back from the cache, not recomputed
    other = tokenize_glue(ds, tiny_tokenizer, "rte", max_length=32)
    assert other["validation"].cache_files != dev.cache_files


def test_tokenize_single_sentence_padding_and_regression(tiny_tokenizer, tmp_path, cache_dir):
    dev = load_glue("sst2", data_dir=GLUE_DIR, split="validation", cache_dir=cache_dir).select(range(16))
    tokenized = tokenize_glue(dev, tiny_tokenizer, "sst2", max_length=24, padding="max_length")
    assert {len(ids) for ids in tokenized["input_ids"]} == {24}
    assert all(set(t) == {0} for t in tokenized["token_type_ids"])
    assert tokenized[0]["input_ids"][0] == tiny_tokenizer.cls_token_id
    path = write(tmp_path / "sts.csv", "sentence1,sentence2,label\na plane,a plane,4.5\na man,a cat,0.25\n")
    sts = tokenize_glue(load_glue("stsb", data_files=path, split="train", cache_dir=cache_dir), tiny_tokenizer, "stsb")
    assert sts["labels"] == [4.5, 0.25] and sts.features["labels"].dtype == "float32"


def test_tokenize_errors(tiny_tokenizer, cache_dir):
    dev = load_glue("sst2", data_dir=GLUE_DIR, split="validation", cache_dir=cache_dir)
    with pytest.raises(
        ValueError, match=r"lacks column\(s\) \['sentence1', 'sentence2'\].*\['sentence', 'label', 'idx'\]"
    ):
        tokenize_glue(dev, tiny_tokenizer, "rte")
    with pytest.raises(ValueError, match="max_length"):
        tokenize_glue(dev, tiny_tokenizer, "sst2", max_length=0)


def test_tokenized_dataset_feeds_a_model(tiny_tokenizer, cache_dir):
    from transformers import DataCollatorWithPadding

    dev = load_glue("rte", data_dir=GLUE_DIR, split="validation", cache_dir=cache_dir).select(range(4))
    tokenized = tokenize_glue(dev, tiny_tokenizer, "rte", max_length=64)
    batch = DataCollatorWithPadding(tiny_tokenizer)([tokenized[i] for i in range(4)])
    model = BertForSequenceClassification(tiny_teacher_config(**label_config_kwargs("rte")))
    check_label_order("rte", model.config)
    with torch.no_grad():
        out = model(**batch)
    assert out.logits.shape == (4, 2) and torch.isfinite(out.loss)


# ---- any `datasets` dataset (run_glue's --dataset_name / --dataset_config_name), from local folders


def test_a_save_to_disk_folder_and_a_folder_of_csv_files_load_as_the_task(tmp_path, tiny_tokenizer):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    from hf_tinybert.stages import TaskDataArguments, load_task_data

    # a save_to_disk folder whose ClassLabel names are in the other order than SST-2's: mapped by name
    features = Features({"review": Value("string"), "label": ClassLabel(names=["positive", "negative"])})
    rows = {"review": ["a good film", "an awful film", "great fun"], "label": [0, 1, 0]}
    DatasetDict(
        {"train": Dataset.from_dict(rows, features), "validation": Dataset.from_dict(rows, features)}
    ).save_to_disk(tmp_path / "disk")
    data = load_task_data(
        TaskDataArguments(task="sst2", dataset_name=str(tmp_path / "disk"), text_columns="review", max_seq_length=16),
        tiny_tokenizer,
    )
    assert data.train["labels"] == [1, 0, 1]  # SST-2: negative 0, positive 1

    # a folder of CSV files with class names as labels, through datasets.load_dataset
    (tmp_path / "csv").mkdir()
    for split in ("train", "validation"):
        (tmp_path / "csv" / f"{split}.csv").write_text("sentence,label\nnice,positive\nbad,negative\n")
    args = TaskDataArguments(task="sst2", dataset_name=str(tmp_path / "csv"), max_seq_length=16)
    assert load_task_data(args, tiny_tokenizer).eval_sets["validation"]["labels"] == [1, 0]

    (tmp_path / "csv" / "train.csv").write_text("sentence,label\nnice,maybe\n")
    with pytest.raises(ValueError, match="maybe"):
        load_task_data(args, tiny_tokenizer)


def test_dataset_name_flags_as_run_glue_spells_them():
    from hf_tinybert.cli.arguments import parse_arguments
    from hf_tinybert.stages import TaskDataArguments

    (args,) = parse_arguments(
        (TaskDataArguments,),
        ["--task_name", "sst2", "--dataset_name", "nyu-mll/glue", "--dataset_config_name", "sst2"],
        "x",
        "",
    )
    assert (args.task, args.dataset_name, args.dataset_config_name) == ("sst2", "nyu-mll/glue", "sst2")
    for flags in (["--text_columns", "q", "p"], ["--text_columns", "q,p"]):  # both list styles
        (args,) = parse_arguments(
            (TaskDataArguments,),
            ["--task", "custom", "--dataset_name", "d", *flags, "--class_names", "a", "b"],
            "x",
            "",
        )
        assert (args.text_columns, args.class_names) == ("q,p", "a,b")
