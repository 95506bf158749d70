/**
 * Host drivers a distribution kernel would have for our boards: compatible → the
 * driver's real name (struct device_driver.name), its bus and module. Only the
 * drivers some device of the booted tree matches are registered.
 */
import type { BusName } from './machine.js';

export interface CatalogDriver {
  name: string;
  bus: BusName;
  compatible: string[];
  module: string | null;
}

export const HOST_DRIVERS: readonly CatalogDriver[] = [
  { name: 'calxedaxgmac', bus: 'platform', compatible: ['calxeda,hb-xgmac'], module: null },
  { name: 'fsl-elo-dma', bus: 'platform', compatible: ['fsl,elo-dma', 'fsl,eloplus-dma', 'fsl,elo3-dma'], module: 'fsldma' },
  { name: 'amd-xgbe', bus: 'platform', compatible: ['amd,xgbe-seattle-v1a'], module: 'amd_xgbe' },
  // drivers/mailbox/bcm-flexrm-mailbox.c: .driver.name is "brcm-flexrm-mbox" (the module is bcm-flexrm-mailbox)
  { name: 'brcm-flexrm-mbox', bus: 'platform', compatible: ['brcm,iproc-flexrm-mbox'], module: 'bcm_flexrm_mailbox' },
  { name: 'ravb', bus: 'platform', compatible: ['renesas,etheravb-rcar-gen3', 'renesas,etheravb-r8a7795', 'renesas,etheravb-rcar-gen2'], module: 'ravb' },
  { name: 'sata_rcar', bus: 'platform', compatible: ['renesas,rcar-gen3-sata', 'renesas,sata-r8a7795', 'renesas,rcar-sata'], module: 'sata_rcar' },
  { name: 'dma-pl330', bus: 'amba', compatible: ['arm,pl330'], module: null },
  { name: 'uart-pl011', bus: 'amba', compatible: ['arm,pl011'], module: null },
  { name: 'sp805-wdt', bus: 'amba', compatible: ['arm,sp805'], module: 'sp805_wdt' },
  { name: 'pl061_gpio', bus: 'amba', compatible: ['arm,pl061'], module: null },
  { name: 'arm-smmu', bus: 'platform', compatible: ['arm,smmu-v1', 'arm,smmu-v2', 'arm,mmu-400', 'arm,mmu-401', 'arm,mmu-500', 'arm,cortex-a53-smmu'], module: null },
  { name: 'arm-smmu-v3', bus: 'platform', compatible: ['arm,smmu-v3'], module: null },
  { name: 'ipmmu-vmsa', bus: 'platform', compatible: ['renesas,ipmmu-vmsa', 'renesas,ipmmu-r8a7795'], module: null },
  { name: 'fsl-of-pamu', bus: 'platform', compatible: ['fsl,pamu'], module: null },
  { name: 'renesas-cpg-mssr', bus: 'platform', compatible: ['renesas,r8a7795-cpg-mssr'], module: null },
  { name: 'gpio-keys', bus: 'platform', compatible: ['gpio-keys'], module: 'gpio_keys' },
  { name: 'of_serial', bus: 'platform', compatible: ['ns16550a', 'ns16550', 'ns8250'], module: null },
  { name: 'dw-apb-uart', bus: 'platform', compatible: ['snps,dw-apb-uart'], module: null },
  { name: 'sh-sci', bus: 'platform', compatible: ['renesas,rcar-gen3-scif', 'renesas,scif'], module: null },
];
