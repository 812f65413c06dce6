"""The intended-use statement that every model card, the API metadata and the README carry."""

INTENDED_USE = (
    "Decision support for research and prototyping: estimates the probability that back pain is "
    "caused by a spinal malignancy (metastasis, myeloma or primary tumour) from clinical red "
    "flags, and explains each estimate feature by feature."
)
SIMULATED_DATA_WARNING = (
    "The default model is trained on simulated cases calibrated to published diagnostic-accuracy "
    "figures, not on real patients."
)
NOT_A_MEDICAL_DEVICE = (
    "Not a medical device. It must be validated on real, local data before any clinical use, and "
    "it never replaces clinical judgement or the emergency pathway for suspected spinal cord "
    "compression."
)
