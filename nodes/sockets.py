"""The pack's socket types (one definition each, shared by every node that produces or takes them)."""

from comfy_api.latest import io

from .conditioning import CONDITIONING_TYPE
from .types import MODEL_TYPE, TEXT_ENCODER_TYPE, VAE_TYPE

Ideogram4ModelSocket = io.Custom(MODEL_TYPE)
Ideogram4TextEncoderSocket = io.Custom(TEXT_ENCODER_TYPE)
Ideogram4VAESocket = io.Custom(VAE_TYPE)
Ideogram4ConditioningSocket = io.Custom(CONDITIONING_TYPE)
