from thead.cli import main

main()
