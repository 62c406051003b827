"""Evaluation shared by the model families: binary metrics at a cutoff, the sequence-blind frequency baseline, and
the plots' labels and ROC/PR curves."""
