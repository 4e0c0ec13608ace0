"""LoRAs for both transformer branches: layouts (`layouts`), reading and checks (`reading`), application as
low-rank side branches on any weight format (`apply`), and the user-facing choice of files per branch (`choice`).
"""

from .apply import LoraStack, LoraTransformer, LoraUse, with_loras
from .choice import LoraChoice, LoraRequest, parse_lora_argument
from .reading import LoraFile, LowRank, read_lora, read_lora_header

__all__ = ["LoraChoice", "LoraFile", "LoraRequest", "LoraStack", "LoraTransformer", "LoraUse", "LowRank",
           "parse_lora_argument", "read_lora", "read_lora_header", "with_loras"]  # fmt: skip
