"""The embedded broker: kombu's filesystem transport, writing each message under a name the
reader skips and then renaming it. kombu writes in place, so a worker could take a file
still empty, fail to decode it and die (kombu issue 1551); a rename is atomic."""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        with open(path + ".part", "wb") as f:
            f.write(dumps(payload).encode())
        os.replace(path + ".part", path)


class Transport(filesystem.Transport):
    Channel = Channel
    # A folder, not a host: without this, kombu warns "No hostname was supplied" each time
    # it clones a connection (as a publish from a management command does).
    default_connection_params = {"hostname": None, "port": None}
