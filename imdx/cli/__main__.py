from imdx.cli import main

main()
