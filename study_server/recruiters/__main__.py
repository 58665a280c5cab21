from study_server.recruiters.cli import main

raise SystemExit(main())
