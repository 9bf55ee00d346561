"""Paths of the shipped demo model, for tests that run the real runtime."""

from logos_tools.shipped import gguf_dir

DEMO_F16 = gguf_dir() / "demo" / "logos-demo-f16.gguf"
DEMO_Q8 = gguf_dir() / "demo" / "logos-demo-q8_0.gguf"
DEMO_HF = gguf_dir() / "demo" / "hf"
# The Hugging Face folder a demo build writes (config, weights, tokenizer).
DEMO_HF_FILES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    }
)
