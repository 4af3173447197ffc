"""Local fake Facebook Graph and Zalo OA servers that check and record what the gateway sends."""
