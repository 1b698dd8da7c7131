"""Open what `scan` and `trust` look at: an image reference or this host, as a trust model."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator

from ..fs.host import HostView
from ..image.cache import LayerCache
from ..image.layers import ProgressCallback
from ..image.sources import open_image
from ..image.tree import read_image_tree
from .keep import TRUST_FILES
from .model import ImageTrustModel, TrustModel


def host_model(root: str = "/") -> TrustModel:
    """This machine's stores, as the programs started from this shell see them."""
    return TrustModel(HostView(root), dict(os.environ), kind="host")


@contextmanager
def image_model(reference: str, *, platform: str | None = None, ca_file: str | None = None,
                insecure_registries: tuple[str, ...] = (), model: Callable[..., ImageTrustModel] = ImageTrustModel,
                progress: Callable[[object], object] | None = None, cache: LayerCache | None = None,
                clients: dict | None = None, timeout: float | None = None,
                **model_options) -> Iterator[ImageTrustModel]:
    """Open the image, stream every layer once with the trust model's keep policy (layers the cache
    holds are not read at all), and yield its model (`model` builds it: the image checks pass their
    context class). The image is closed after."""
    image = open_image(reference, platform=platform, ca_file=ca_file, insecure_registries=insecure_registries,
                       clients=clients, timeout=timeout)
    try:
        on_bytes: ProgressCallback | None = None
        if progress is not None:
            with progress(image) as on_bytes:
                tree = read_image_tree(image, TRUST_FILES, progress=on_bytes, cache=cache)
        else:
            tree = read_image_tree(image, TRUST_FILES, cache=cache)
        opened = model(tree, image.config, reference, **model_options)
        opened.image = image
        yield opened
    finally:
        image.close()
