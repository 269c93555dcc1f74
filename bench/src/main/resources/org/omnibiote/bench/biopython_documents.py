"""Writes the original preprocessing's documents for every file of a data folder, one a line.

GenBank files Biopython parses: '<' + molecule_type + '>' + SEQ.upper() + '<EOS>' per record
(records whose sequence is undefined are skipped); FASTA files: '<protein>' + SEQ + '<EOS>'.
Files Biopython refuses are skipped (the parser tests cover them). Run with /usr/bin/python3.
"""
import os
import sys
import warnings

from Bio import SeqIO
from Bio.Seq import UndefinedSequenceError

warnings.simplefilter("ignore")


def genbank_documents(path):
    docs = []
    for rec in SeqIO.parse(path, "genbank"):
        try:
            seq = str(rec.seq).upper()
        except UndefinedSequenceError:
            continue
        docs.append("<" + rec.annotations["molecule_type"] + ">" + seq + "<EOS>")
    return docs


def fasta_documents(path):
    return ["<protein>" + str(rec.seq) + "<EOS>" for rec in SeqIO.parse(path, "fasta")]


def main(data_dir, out_path):
    files = 0
    with open(out_path, "w") as out:
        for root, _, names in sorted(os.walk(data_dir)):
            for name in sorted(names):
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    head = f.read(65536)
                if head.startswith(b">"):
                    reader = fasta_documents
                elif b"LOCUS" in head:
                    reader = genbank_documents
                else:
                    continue
                try:
                    docs = reader(path)
                except Exception as e:  # Biopython refuses the file: not our concern here
                    print("skipped %s: %s" % (path, e), file=sys.stderr)
                    continue
                files += 1
                for d in docs:
                    out.write(d + "\n")
    print("%d files" % files, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
