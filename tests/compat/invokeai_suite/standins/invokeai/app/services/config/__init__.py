from .config_default import InvokeAIAppConfig, get_config

__all__ = ["InvokeAIAppConfig", "get_config"]
