"""Pretrained protein models, offline: the embedder interface, HuggingFace transformers (ProtBERT, ProtXLNet,
ESM-2), UniRep and ProteinBERT. Each turns sequences into per-protein and per-residue vectors; nothing here
knows of the interaction model."""
