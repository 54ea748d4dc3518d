"""What both apps' REST APIs share: the error handler, token authentication, pagination, schema hooks."""
