import pytest
from pydantic import ValidationError

from schemas.export import ExportParams
from schemas.render import TEMPLATES, RenderParams, TokenizerParams
from stages.lib.render import templates


def test_template_names_match_the_library():
    assert tuple(templates.TEMPLATES) == TEMPLATES


def test_defaults_and_inline_templates():
    cfg = RenderParams()
    assert (cfg.template, cfg.mask_policy, cfg.train_on_eos, cfg.truncation) == ("chatml", "assistant", True, "left")
    assert RenderParams(template="{{ messages }}").template == "{{ messages }}"
    assert RenderParams(template="tokenizer").template == "tokenizer"
    assert RenderParams(prompt_loss_weight="1e-1").prompt_loss_weight == 0.1  # as `dvc exp run -S` writes it


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"template": "chatmll"}, "unknown template 'chatmll'"),
        ({"mask_policy": "prompt"}, "mask_policy"),
        ({"truncation": "middle"}, "truncation"),
        ({"max_length": 4}, "max_length"),
        ({"mask_policy": "all", "prompt_loss_weight": 0.5}, "with mask_policy 'all' there are none"),
        ({"max_lenght": 10}, "max_lenght"),
    ],
)
def test_bad_render_params_are_named(kw, message):
    with pytest.raises(ValidationError, match=message):
        RenderParams(**kw)


def test_tokenizer_and_export_params():
    with pytest.raises(ValidationError, match="unknown template 'tokenizer'"):
        TokenizerParams(template="tokenizer")
    with pytest.raises(ValidationError, match="formats"):
        ExportParams(formats=["csv"])
    with pytest.raises(ValidationError, match="dataset_name"):
        ExportParams(dataset_name="has space")


def test_builders_take_settings_named_like_the_schema_fields():
    import inspect

    from schemas.export import ExportParams
    from stages.lib.export.chat import export_chat
    from stages.lib.export.classification import export_classification
    from stages.lib.render.tokenizer import train_chat_tokenizer
    from stages.lib.render.tokens import encode_rows

    def keyword_only(fn):
        return {p.name for p in inspect.signature(fn).parameters.values() if p.kind == p.KEYWORD_ONLY}

    assert keyword_only(encode_rows) <= set(RenderParams.model_fields)
    assert keyword_only(export_chat) == set(ExportParams.model_fields) - {"card_stages"}
    assert keyword_only(export_classification) <= set(ExportParams.model_fields)
    assert set(inspect.signature(train_chat_tokenizer).parameters) - {"texts"} == set(TokenizerParams.model_fields)
