from thead.cli.app import main

main()
