from evalroom.cli import main

main()
