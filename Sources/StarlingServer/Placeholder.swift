// StarlingServer
