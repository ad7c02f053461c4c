; Inno Setup 6 script: a per-user installer (no administrator rights) for the frozen bridge.
;   1. installers\pyinstaller\build-frozen (or the PyInstaller command in installers\README.md)
;   2. "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" installers\windows\eid-bridge.iss
; Output: dist\eid-bridge-setup-<version>.exe
#define AppVersion "0.1.0"
#define RunValue "eID bridge"

[Setup]
AppId={{6F1C2B0E-5D7A-4E43-9B8E-3A4C1E2D9F10}
AppName=eID bridge
AppVersion={#AppVersion}
AppPublisher=eID bridge
DefaultDirName={localappdata}\Programs\eID bridge
DefaultGroupName=eID bridge
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=eid-bridge-setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
UninstallDisplayIcon={app}\eid-bridge.exe
CloseApplications=yes
SetupIconFile=..\..\build\icons\eid-bridge.ico

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "fr"; MessagesFile: "compiler:Languages\French.isl"
Name: "nl"; MessagesFile: "compiler:Languages\Dutch.isl"
Name: "de"; MessagesFile: "compiler:Languages\German.isl"

[Tasks]
Name: "autostart"; Description: "Start the eID bridge when I log in"; Flags: checkedonce

[Files]
Source: "..\..\dist\eid-bridge\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{userprograms}\eID bridge"; Filename: "{app}\eid-bridge.exe"; Parameters: "tray"

[Registry]
; The same value the tray's "Start at login" item writes and removes; the uninstaller
; deletes it (uninsdeletevalue) even when the user had turned it off and on again.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "{#RunValue}"; ValueData: """{app}\eid-bridge.exe"" tray --autostart"; Flags: uninsdeletevalue; Tasks: autostart
; Without the task the value may still exist (turned on later from the tray): removed too.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "{#RunValue}"; Flags: uninsdeletevalue

[Run]
Filename: "{app}\eid-bridge.exe"; Parameters: "tray"; Description: "Start the eID bridge now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Stop the running tray before its files are removed.
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM eid-bridge.exe"; Flags: runhidden; RunOnceId: "StopBridge"

[UninstallDelete]
Type: filesandordirs; Name: "{app}"
