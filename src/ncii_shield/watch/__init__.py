"""Live Telegram monitoring (`watch-chats`): the watch list, the sealed session, and the polling runner."""
