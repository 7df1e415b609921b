"""Training: datasets and patches, augmentation, losses and the loop."""

from orescope.train.config import (
    DataSource,
    LossConfig,
    OptimizerConfig,
    TrainConfig,
    read_train_config,
)
from orescope.train.loop import train as train_model

__all__ = [
    "DataSource",
    "LossConfig",
    "OptimizerConfig",
    "TrainConfig",
    "read_train_config",
    "train_model",
]
