"""Biopython's side of `omnibiote bench parse`: a GenBank file in, the original's documents out.

Usage: biopython_parse.py IN.gb OUT.txt. Reads IN.gb with SeqIO.parse(..., "genbank") and writes
'<' + molecule_type + '>' + SEQ.upper() + '<EOS>' per record to OUT.txt, one a line, as the
original preprocessing does (biopython_documents.py): records whose sequence is undefined
(UndefinedSequenceError: CONTIG-only records, WGS masters) are skipped, and a record with an
empty sequence is written as it is ('<DNA><EOS>'). Both are counted, since our parser skips
both kinds.

The time runs from opening the input to closing the output; the interpreter's start-up and the
imports are left out, as the JVM's start-up is on our side. Nothing is synced, on either side.
Prints one line: documents written, undefined records skipped, empty documents written, wall
seconds, CPU seconds (process_time: user + system). Run with /usr/bin/python3.
"""
import sys
import time
import warnings

from Bio import BiopythonWarning, SeqIO
from Bio.Seq import UndefinedSequenceError

warnings.simplefilter("ignore", BiopythonWarning)


def main(in_path, out_path):
    wall = time.perf_counter()
    cpu = time.process_time()
    documents = undefined = empty = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for rec in SeqIO.parse(in_path, "genbank"):
            try:
                seq = str(rec.seq).upper()
            except UndefinedSequenceError:
                undefined += 1
                continue
            if not seq:
                empty += 1
            doc = "<" + rec.annotations["molecule_type"] + ">" + seq + "<EOS>"
            out.write(doc + "\n")
            documents += 1
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    print(documents, undefined, empty, wall, cpu)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
