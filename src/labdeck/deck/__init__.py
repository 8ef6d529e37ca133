"""The deck: loading the user's module, introspecting it, converting arguments, calling it."""
