"""What the server keeps on disk: accounts, registered rooms, and how their files are changed; imports only core."""
