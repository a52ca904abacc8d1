/** @file
  bootmenu's DXE driver for the UEFI Universal Payload.

  bootmenu (a boot manager running in Linux) kexecs into the payload with a HOB list that it
  builds.  For the application the user chose it adds one GUID extension HOB per UEFI
  variable, named by BOOTMENU_VARIABLE_HOB_GUID, whose data is

    EFI_GUID  VendorGuid;     // the variable's vendor GUID
    UINT32    Attributes;     // EFI_VARIABLE_* attributes
    UINT32    NameSize;       // bytes of Name, including its UCS-2 NUL
    UINT32    DataSize;       // bytes of Data
    CHAR16    Name[];         // unaligned
    UINT8     Data[];

  (all little-endian, packed).  The payload copies every GUID HOB of the boot loader into its
  own HOB list, so they are visible in DXE.  This driver runs once the variable services are
  there (depex) and sets each variable with SetVariable(): bootmenu hands over Boot#### (an
  EFI_LOAD_OPTION whose optional data are the application's load options) and BootNext, and
  the payload's BDS, which reads BootNext before it considers BootOrder, starts exactly that
  application.  A malformed record is skipped; the driver never fails the boot.

  SPDX-License-Identifier: BSD-2-Clause-Patent
**/

#include <Uefi.h>
#include <Pi/PiHob.h>
#include <Library/BaseMemoryLib.h>
#include <Library/DebugLib.h>
#include <Library/HobLib.h>
#include <Library/UefiRuntimeServicesTableLib.h>

#define BOOTMENU_VARIABLE_HOB_GUID \
  { 0x996ad62f, 0xb721, 0x445b, { 0xac, 0x69, 0x29, 0x71, 0xde, 0xfd, 0x22, 0xac } }

#pragma pack(1)
typedef struct {
  EFI_GUID    VendorGuid;
  UINT32      Attributes;
  UINT32      NameSize;
  UINT32      DataSize;
} BOOTMENU_VARIABLE;
#pragma pack()

STATIC EFI_GUID  mBootmenuVariableHobGuid = BOOTMENU_VARIABLE_HOB_GUID;

/**
  Set one variable from one HOB; FALSE when the record is malformed.
**/
STATIC
BOOLEAN
SetOne (
  IN CONST UINT8  *Record,
  IN UINTN        Size
  )
{
  BOOTMENU_VARIABLE  Header;
  CHAR16             *Name;
  UINTN              Index;
  EFI_STATUS         Status;

  if (Size < sizeof (Header)) {
    return FALSE;
  }

  CopyMem (&Header, Record, sizeof (Header));
  if ((Header.NameSize < sizeof (CHAR16)) || ((Header.NameSize % sizeof (CHAR16)) != 0) ||
      ((UINT64)Header.NameSize + Header.DataSize > Size - sizeof (Header)))
  {
    return FALSE;
  }

  //
  // Name is unaligned in the HOB: x86 does not mind, and SetVariable copies it.
  //
  Name = (CHAR16 *)(Record + sizeof (Header));
  for (Index = 0; Index < Header.NameSize / sizeof (CHAR16) - 1; Index++) {
    if (Name[Index] == 0) {
      return FALSE;
    }
  }

  if (Name[Index] != 0) {
    return FALSE;
  }

  Status = gRT->SetVariable (
                  Name,
                  &Header.VendorGuid,
                  Header.Attributes,
                  Header.DataSize,
                  (VOID *)(Record + sizeof (Header) + Header.NameSize)
                  );
  DEBUG ((DEBUG_INFO, "BootmenuVariables: %s (%u bytes): %r\n", Name, Header.DataSize, Status));
  return TRUE;
}

EFI_STATUS
EFIAPI
BootmenuVariablesEntry (
  IN EFI_HANDLE        ImageHandle,
  IN EFI_SYSTEM_TABLE  *SystemTable
  )
{
  VOID  *GuidHob;

  for (GuidHob = GetFirstGuidHob (&mBootmenuVariableHobGuid);
       GuidHob != NULL;
       GuidHob = GetNextGuidHob (&mBootmenuVariableHobGuid, GET_NEXT_HOB (GuidHob)))
  {
    if (!SetOne (GET_GUID_HOB_DATA (GuidHob), GET_GUID_HOB_DATA_SIZE (GuidHob))) {
      DEBUG ((DEBUG_ERROR, "BootmenuVariables: skipped a malformed variable HOB\n"));
    }
  }

  return EFI_SUCCESS;
}
