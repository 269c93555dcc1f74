"""Two small real per-residue tasks for finetune's tests, on 48-residue pieces of human titin:

- OUT/class: each residue's class, 0 charged (D, E, K, R), 1 hydrophobic (Kyte-Doolittle
  hydropathy above 0: A, C, F, I, L, M, V), 2 polar (the rest);
- OUT/value: the Kyte-Doolittle hydropathy of the 7-residue window centred on the residue, as
  Biopython computes it (ProteinAnalysis.protein_scale with Bio.SeqUtils.ProtParamData.kd, the
  published scale).

The three residues at each end have no full window and no label ('.') in both, as ProteinGLUE
leaves residues without a label. Each task has train.csv (200 pieces), dev.csv (40) and test.csv
(40) in the layout 'sequence,labels'.

usage: residue_hydropathy_task.py TITIN.fasta OUT
"""
import os
import random
import sys

from Bio import SeqIO
from Bio.SeqUtils.ProtParam import ProteinAnalysis
from Bio.SeqUtils.ProtParamData import kd

source, out = sys.argv[1], sys.argv[2]
seq = str(next(SeqIO.parse(source, "fasta")).seq)
pieces = [seq[i:i + 48] for i in range(0, len(seq) - 47, 48)]
pieces = [p for p in pieces if set(p) <= set(kd)]
random.Random(11).shuffle(pieces)
splits = {"train.csv": pieces[:200], "dev.csv": pieces[200:240], "test.csv": pieces[240:280]}
for task in ("class", "value"):
    os.makedirs(os.path.join(out, task), exist_ok=True)
    for name, rows in splits.items():
        with open(os.path.join(out, task, name), "w") as f:
            f.write("sequence,labels\n")
            for p in rows:
                window = ProteinAnalysis(p).protein_scale(kd, 7)
                if task == "class":
                    middle = ["0" if r in "DEKR" else "1" if kd[r] > 0 else "2" for r in p[3:-3]]
                else:
                    middle = ["%.6f" % v for v in window]
                f.write(p + "," + " ".join(["."] * 3 + middle + ["."] * 3) + "\n")
