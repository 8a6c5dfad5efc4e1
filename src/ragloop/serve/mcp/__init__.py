"""The MCP face: ragloop's search, answers, documents and feedback as Model Context Protocol
tools and resources, for agents and IDEs (``ragloop mcp`` over stdio, ``/mcp`` on
``ragloop serve``). ``tools.py`` holds the tools, ``results.py`` what they return,
``server.py`` assembles the SDK server, ``http.py`` mounts it on the app."""
