"""Defaults shared by the library and the `redflag` CLI, in a module light enough for the CLI to
import before it knows which command runs.
"""

# The default cohort. At the primary-care prevalence (0.7%) a million cases put ~4,200 malignant
# cases in the training split, ~100 per engineered feature: boosted trees need several times the
# events per variable that logistic regression does before their interactions pay off (van der
# Ploeg, Austin & Steyerberg, BMC Med Res Methodol 2014). At 200,000 cases the two tie on AUROC.
TRAINING_CASES = 1_000_000
# The fresh cohort of a paired comparison and of the promotion gate: ~1,400 malignant cases in
# primary care, enough for a paired AUROC difference of 0.003 to clear its interval.
FRESH_COHORT_CASES = 200_000
# Its seed: differs from every seed a run is likely to be trained with.
FRESH_COHORT_SEED = 1_000_003
