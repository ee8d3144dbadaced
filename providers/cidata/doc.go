// Package cidata builds a VM's config disk: a NoCloud ISO 9660 image,
// volume label "cidata", that cloud-init finds and reads at boot, holding
// the VM's cloud_init files and the files of its file blocks.
//
// Its layout:
//
//	/user-data         the cloud_init user_data, or, when it is not given,
//	                   a #cloud-config whose write_files writes the
//	                   file blocks (so that a cloud-init guest gets them)
//	/meta-data         the cloud_init meta_data, or an instance-id and a
//	                   local-hostname
//	/network-config    the cloud_init network_config, when given
//	/labform/files.json  the file blocks: [{path, mode, owner, file}],
//	                   file naming the ISO file of the content
//	/labform/files/N   the contents, one per file
//
// ISO 9660 (without Rock Ridge) keeps neither long names nor modes, so the
// files are stored under short names and their paths, modes and owners
// in files.json, for a guest without cloud-init to apply them.
//
// It imports only the providers contract.
package cidata
