from study_server.cli import main

raise SystemExit(main())
