"""Checks a per-residue finetune run against independent references; prints a JSON summary and
exits 1 on the first disagreement.

usage: residue_predictions_check.py TASK_DIR RUN_DIR TOKENIZER.model

- Which residues each token covers: spm_encode (Debian's sentencepiece) on '<protein>SEQ<EOS>',
  the '▁' pieces dropped, token t covering the letters of piece t.
- Each token's label: the most frequent class of its labelled residues, the smallest on a tie
  (numpy.bincount(...).argmax(), as the original proteinGLUE.py), or their mean.
- The metrics in metrics.json, over residues (dev_residues, test_residues) and over labelled
  tokens (dev, test): scikit-learn 1.2 and SciPy on the predictions written, to 1e-9.
"""
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import (accuracy_score, f1_score, matthews_corrcoef, mean_absolute_error,
                             mean_squared_error, roc_auc_score)

task_dir, run_dir, model = sys.argv[1:4]
metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
classification = metrics["task_type"] == "classification"
rows = list(csv.DictReader(open(os.path.join(run_dir, "predictions.csv"))))


def fail(message):
    print(message)
    sys.exit(1)


def f32(text):
    # The predictions are float32 values written with 9 significant digits: this is them exactly.
    return float(np.float32(float(text)))


sequences = {}
for name in ("dev.csv", "test.csv"):
    with open(os.path.join(task_dir, name)) as f:
        for line, text in enumerate(f.read().split("\n"), start=1):
            if line > 1 and text.strip():
                sequences[name + ":" + str(line)] = text.split(",")[0]

ids = sorted(sequences)
documents = "".join("<protein>" + sequences[i] + "<EOS>\n" for i in ids)
pieces = subprocess.run(["spm_encode", "--model", model, "--output_format", "piece"],
                        input=documents, capture_output=True, text=True, check=True).stdout
token_of = {}
multi = 0
for i, line in zip(ids, pieces.split("\n")):
    kept = [p for p in line.split(" ") if p != "\u2581"]
    at = 0
    for t, piece in enumerate(kept[1:-1], start=1):
        multi += len(piece) > 1
        for _ in piece:
            token_of[(i, at + 1)] = t
            at += 1
    if at != len(sequences[i]):
        fail(f"{i}: spm_encode's pieces cover {at} of {len(sequences[i])} residues")

by_token = {}
for r in rows:
    key = (r["id"], int(r["position"]))
    if int(r["token"]) != token_of[key]:
        fail(f"{key}: token {r['token']}, spm_encode says {token_of[key]}")
    if r["residue"] != sequences[r["id"]][int(r["position"]) - 1]:
        fail(f"{key}: residue {r['residue']}")
    by_token.setdefault((r["split"], r["id"], r["token"]), []).append(r)
if len(rows) != sum(len(sequences[i]) for i in ids):
    fail(f"{len(rows)} rows for {sum(len(sequences[i]) for i in ids)} residues")

token_label = {}
for key, group in by_token.items():
    labels = [float(r["label"]) for r in group if r["label"] != ""]
    written = group[0]["token_label"]
    if not labels:
        expected = None
    elif classification:
        expected = int(np.bincount(np.array(labels, dtype=int)).argmax())
    else:
        expected = sum(labels) / len(labels)  # in order, as finetune adds them
    if expected is None or written == "":
        if not (expected is None and written == ""):
            fail(f"{key}: token label '{written}', expected {expected}")
    elif abs(float(written) - expected) > 1e-6 * max(1.0, abs(expected)):
        fail(f"{key}: token label {written}, expected {expected}")
    token_label[key] = expected


def score(picked, y):
    if classification:
        k = len([c for c in picked[0] if c.startswith("p") and c[1:].isdigit()])
        p = np.array([[f32(r["p" + str(c)]) for c in range(k)] for r in picked])
        t = np.array(y, dtype=int)
        pred = p.argmax(axis=1)
        auroc = (roc_auc_score(t, p[:, 1]) if k == 2
                 else roc_auc_score(t, p, multi_class="ovr", labels=list(range(k))))
        return {"mcc": matthews_corrcoef(t, pred), "f1_weighted": f1_score(t, pred, average="weighted"),
                "accuracy": accuracy_score(t, pred), "auroc": auroc}
    f = [f32(r["prediction"]) for r in picked]
    return {"pearson": pearsonr(y, f)[0], "spearman": spearmanr(y, f)[0],
            "mse": mean_squared_error(y, f), "mae": mean_absolute_error(y, f)}


compared = 0
for split in ("dev", "test"):
    residues = [r for r in rows if r["split"] == split and r["label"] != ""]
    keys = [k for k in by_token if k[0] == split and token_label[k] is not None]
    for name, picked, y in ((split + "_residues", residues, [float(r["label"]) for r in residues]),
                            (split, [by_token[k][0] for k in keys], [token_label[k] for k in keys])):
        for metric, value in score(picked, y).items():
            java = metrics[name][metric]
            if java is None or math.isnan(value) or abs(java - value) > 1e-9:
                fail(f"{name} {metric}: finetune {java}, scikit-learn/SciPy {value}")
            compared += 1
print(json.dumps({"residues": len(rows), "tokens": len(by_token), "multi_residue_pieces": multi,
                  "metrics_compared": compared}))
