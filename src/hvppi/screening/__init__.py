"""The default model: which human proteins might this viral protein bind, from what is known of similar proteins.

One room per part, data flowing one way: the virus of a protein (:mod:`~hvppi.screening.taxa`) and similarities to
the reference proteins (:mod:`~hvppi.screening.similarity`) → features by name (:mod:`~hvppi.screening.features`)
→ trees (:mod:`~hvppi.screening.trees`) and calibration (:mod:`~hvppi.screening.calibration`) → the fitted model
(:mod:`~hvppi.screening.model`, settings in :mod:`~hvppi.screening.config`, files in
:mod:`~hvppi.screening.modelfile`) → ranked rows with evidence (:mod:`~hvppi.screening.scorer`). Fitting
(:mod:`~hvppi.screening.fitting`), the bundled model's recipe and training data (:mod:`~hvppi.screening.recipe`)
and the benchmark (:mod:`hvppi.screening.benchmark`) build on those rooms.
"""
