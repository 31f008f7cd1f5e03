from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from orgsync_kernel.config_file import load_settings
from orgsync_kernel.settings import Settings
from tests.support.config import ENV, EXAMPLE

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for info in model.model_fields.values():
        for kind in (info.annotation, *getattr(info.annotation, "__args__", ())):
            for inner in (kind, *getattr(kind, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                    found |= models(inner)
    return found


def test_every_key_is_documented() -> None:
    prose = re.sub(r"```.*?```", "", DOC.read_text(), flags=re.DOTALL)
    quoted = " ".join(re.findall(r"`([^`]+)`", prose))
    documented = set(re.findall(r"[a-z_]+", quoted))
    names = {name for model in models(Settings) for name in model.model_fields}
    assert len(names) > 40
    assert names - documented == set()


def test_the_documented_example_is_the_example_file_and_valid() -> None:
    block = DOC.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    example_body = EXAMPLE.read_text()
    assert yaml.safe_load(block) == yaml.safe_load(example_body)
    assert load_settings(EXAMPLE, ENV).sync
