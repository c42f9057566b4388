"""One module per subcommand. Each defines `command` (the Typer function) and stays thin:
parse options, call the library, render. Heavy imports happen inside `command`."""
