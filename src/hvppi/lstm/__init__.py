"""The paper's model: the BiLSTM-attention interaction predictor of Tsukiyama et al. (2020).

Residue features (:mod:`~hvppi.lstm.features`), the two-tower model (:mod:`~hvppi.lstm.model`), its files
(:mod:`~hvppi.lstm.modelfile`), training (:mod:`~hvppi.lstm.training`), inference on pairs
(:mod:`~hvppi.lstm.inference`), evaluation (:mod:`~hvppi.lstm.evaluation`), stored tower vectors
(:mod:`~hvppi.lstm.vectors`), attention and structure analyses (:mod:`~hvppi.lstm.attention`,
:mod:`~hvppi.lstm.structure`), t-SNE (:mod:`~hvppi.lstm.tsne`), its towers as embedders
(:mod:`~hvppi.lstm.embedders`), and the model behind the scorer interface (:mod:`~hvppi.lstm.scorer`).
"""
