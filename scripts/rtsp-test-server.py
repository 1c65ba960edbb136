#!/usr/bin/python3
"""A real RTSP camera for the stream tests: Debian's GStreamer RTSP server
playing an H.264 MP4 at real speed, behind Basic authentication.

    rtsp-test-server.py PORT MOUNT FILE USER
The password is read from stdin (never argv). Prints "ready" when serving.
Each client session plays the file from its start; at the end the stream
ends and a client reconnects, which is how a looping camera looks here.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port, mount, path, user = sys.argv[1:5]
password = sys.stdin.readline().rstrip("\n")
server = GstRtspServer.RTSPServer()
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( filesrc location={path} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
factory.set_shared(False)
auth = GstRtspServer.RTSPAuth()
token = GstRtspServer.RTSPToken()
token.set_string("media.factory.role", user)
auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
server.set_auth(auth)
perms = GstRtspServer.RTSPPermissions()
perms.add_permission_for_role(user, "media.factory.access", True)
perms.add_permission_for_role(user, "media.factory.construct", True)
factory.set_permissions(perms)
server.get_mount_points().add_factory(mount, factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on port " + port)
print("ready", flush=True)
GLib.MainLoop().run()
