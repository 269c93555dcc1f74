"""Documents as the original OmniBioTE preprocessing makes them with Biopython.

Usage: biopython_documents.py genbank|fasta FILE...
Prints one JSON object per file: {"file", "ok", "error", "records": [...]}, where each
record is {"id", "doc"} for a written document, {"id", "skip": "undefined"|"empty"} for a
record without a sequence, or {"id", "problem"} when the record has no molecule_type
(the original's annotations["molecule_type"] raises KeyError there). "ok" is false when
Biopython raised while reading the file; the records it yielded before are listed.
"""
import json
import sys
import warnings

from Bio import BiopythonWarning, SeqIO
from Bio.Seq import UndefinedSequenceError


def documents(fmt, path):
    for record in SeqIO.parse(path, fmt):
        try:
            seq = str(record.seq).upper()
        except UndefinedSequenceError:
            yield {"id": record.id, "skip": "undefined"}
            continue
        if not seq:
            yield {"id": record.id, "skip": "empty"}
            continue
        if fmt == "fasta":
            tag = "protein"
        else:
            tag = record.annotations.get("molecule_type")
            if tag is None:
                yield {"id": record.id, "problem": "no molecule_type"}
                continue
        yield {"id": record.id, "doc": "<" + tag + ">" + seq + "<EOS>"}


def main():
    fmt = sys.argv[1]
    warnings.simplefilter("ignore", BiopythonWarning)
    for path in sys.argv[2:]:
        out = {"file": path, "ok": True, "error": None, "records": []}
        try:
            for rec in documents(fmt, path):
                out["records"].append(rec)
        except Exception as e:  # the original would stop on the file here
            out["ok"] = False
            out["error"] = type(e).__name__ + ": " + str(e)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
