"""The abstractive generator's LoRA adapter: its config (what it was trained on and with),
how it is read from an artifact's `abstractive` component, and how it is merged into the base."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import BaseModel
from transformers import PreTrainedModel

from opslens.model.artifact import component_sha256, load_component_state
from opslens.model.base_model import BASE_DIST, BASE_GGUF, BASE_NAME, BaseModelError, load_float_model
from opslens.model.prompt import PROMPT_VERSION, PROMPT_VERSIONS

COMPONENT = "abstractive"


class AbstractiveConfig(BaseModel):
    """What the adapter was trained on and with: enough to rebuild the model exactly."""

    base: str = BASE_NAME
    base_package: str = BASE_DIST
    base_package_version: str = ""
    base_file: str = BASE_GGUF
    base_sha256: str = ""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    # Article tokens in the prompt: v1 the article's first ones, v2 its best sentences' (prompt.py).
    article_tokens: int = 256
    # Trained on lower-cased text (the CNN/DailyMail copy we have): the article is lower-cased
    # before prompting, as in training, and the output is recased from the article.
    lowercase: bool = False
    prompt_version: int = PROMPT_VERSION


def lora_config(config: AbstractiveConfig):  # -> peft.LoraConfig (peft is imported lazily)
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
    )


def load_adapter_state(peft_model, state: dict[str, torch.Tensor]) -> None:  # peft.PeftModel
    """Put stored (fp16) LoRA weights into `peft_model` as float32; refuse weights it has no place for."""
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(peft_model, {k: v.float() for k, v in state.items()})
    if result.unexpected_keys:
        raise ValueError(f"adapter weights do not fit the config: unexpected {result.unexpected_keys[:3]}")


def apply_adapter(
    model: PreTrainedModel, config: AbstractiveConfig, state: dict[str, torch.Tensor]
) -> PreTrainedModel:
    """Load LoRA weights into the base and merge them, so decoding costs what the base costs."""
    from peft import get_peft_model

    peft_model = get_peft_model(model, lora_config(config))
    load_adapter_state(peft_model, state)
    return peft_model.merge_and_unload().eval()


def read_adapter(artifact: Path, meta: dict) -> tuple[AbstractiveConfig, dict[str, torch.Tensor], str]:
    """The adapter of an artifact: config, checked weights and their sha256, refused when it was
    trained on another base file or prompt."""
    state, config = load_component_state(artifact, COMPONENT, AbstractiveConfig)
    if config.base_sha256 and config.base_sha256 != meta["source_sha256"]:
        raise BaseModelError(
            f"the adapter was trained on base {config.base_sha256[:12]}, but the installed "
            f"{BASE_DIST} has {meta['source_sha256'][:12]}: "
            f"install {BASE_DIST}=={config.base_package_version}"
        )
    if config.prompt_version not in PROMPT_VERSIONS:
        raise BaseModelError(
            f"the adapter was trained with prompt v{config.prompt_version}, this code writes "
            f"v{', v'.join(map(str, PROMPT_VERSIONS))}"
        )
    return config, state, component_sha256(artifact, COMPONENT)


def merged_model(
    folder: Path, meta: dict, config: AbstractiveConfig, state: dict[str, torch.Tensor] | None
) -> PreTrainedModel:
    """The prepared float base, with the adapter merged in when there is one."""
    model = load_float_model(folder, meta)
    return model if state is None else apply_adapter(model, config, state)
