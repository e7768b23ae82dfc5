//! The storage SOP classes and transfer syntaxes miic receives: which objects a study may hold
//! (PS3.4 Annex B, with the few storage classes outside the storage UID root), and which
//! transfer syntaxes miic files byte-for-byte as sent (it never decodes pixels, so compressed
//! syntaxes cost nothing and spare the PACS a transcode).
//!
//! Uses: dicom::dimse.

use super::dimse::{EXPLICIT_LE, IMPLICIT_LE};

/// Every storage SOP class, now and later, has a UID under this root (PS3.6 Annex A).
pub const STORAGE_ROOT: &str = "1.2.840.10008.5.1.4.1.1.";
pub const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
pub const DEFLATED_LE: &str = "1.2.840.10008.1.2.1.99";

/// Whether a storage class carries pixel data (and so may be held compressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    /// SR, KO, presentation states, encapsulated documents, RT plans, waveforms…
    Document,
}
use Kind::{Document, Image};

/// PS3.4 Annex B storage SOP classes (current, plus the retired ones still found in archives).
pub const STORAGE_CLASSES: &[(&str, Kind)] = &[
    ("1.2.840.10008.5.1.4.1.1.1", Image), // Computed Radiography Image
    ("1.2.840.10008.5.1.4.1.1.1.1", Image), // Digital XRay Image Storage For Presentation
    ("1.2.840.10008.5.1.4.1.1.1.1.1", Image), // Digital XRay Image Storage For Processing
    ("1.2.840.10008.5.1.4.1.1.1.2", Image), // Digital Mammography XRay Image Storage For Presentation
    ("1.2.840.10008.5.1.4.1.1.1.2.1", Image), // Digital Mammography XRay Image Storage For Processing
    ("1.2.840.10008.5.1.4.1.1.1.3", Image), // Digital Intra Oral XRay Image Storage For Presentation
    ("1.2.840.10008.5.1.4.1.1.1.3.1", Image), // Digital Intra Oral XRay Image Storage For Processing
    ("1.2.840.10008.5.1.4.1.1.2", Image),     // CTImage
    ("1.2.840.10008.5.1.4.1.1.2.1", Image),   // Enhanced CTImage
    ("1.2.840.10008.5.1.4.1.1.2.2", Image),   // Legacy Converted Enhanced CTImage
    ("1.2.840.10008.5.1.4.1.1.3.1", Image),   // Ultrasound Multi Frame Image
    ("1.2.840.10008.5.1.4.1.1.4", Image),     // MRImage
    ("1.2.840.10008.5.1.4.1.1.4.1", Image),   // Enhanced MRImage
    ("1.2.840.10008.5.1.4.1.1.4.2", Document), // MRSpectroscopy
    ("1.2.840.10008.5.1.4.1.1.4.3", Image),   // Enhanced MRColor Image
    ("1.2.840.10008.5.1.4.1.1.4.4", Image),   // Legacy Converted Enhanced MRImage
    ("1.2.840.10008.5.1.4.1.1.6.1", Image),   // Ultrasound Image
    ("1.2.840.10008.5.1.4.1.1.6.2", Image),   // Enhanced USVolume
    ("1.2.840.10008.5.1.4.1.1.6.3", Image),   // Photoacoustic Image
    ("1.2.840.10008.5.1.4.1.1.7", Image),     // Secondary Capture Image
    ("1.2.840.10008.5.1.4.1.1.7.1", Image),   // Multi Frame Single Bit Secondary Capture Image
    ("1.2.840.10008.5.1.4.1.1.7.2", Image),   // Multi Frame Grayscale Byte Secondary Capture Image
    ("1.2.840.10008.5.1.4.1.1.7.3", Image),   // Multi Frame Grayscale Word Secondary Capture Image
    ("1.2.840.10008.5.1.4.1.1.7.4", Image),   // Multi Frame True Color Secondary Capture Image
    ("1.2.840.10008.5.1.4.1.1.9.1.1", Document), // Twelve Lead ECGWaveform
    ("1.2.840.10008.5.1.4.1.1.9.1.2", Document), // General ECGWaveform
    ("1.2.840.10008.5.1.4.1.1.9.1.3", Document), // Ambulatory ECGWaveform
    ("1.2.840.10008.5.1.4.1.1.9.1.4", Document), // General32bit ECGWaveform
    ("1.2.840.10008.5.1.4.1.1.9.2.1", Document), // Hemodynamic Waveform
    ("1.2.840.10008.5.1.4.1.1.9.3.1", Document), // Cardiac Electrophysiology Waveform
    ("1.2.840.10008.5.1.4.1.1.9.4.1", Document), // Basic Voice Audio Waveform
    ("1.2.840.10008.5.1.4.1.1.9.4.2", Document), // General Audio Waveform
    ("1.2.840.10008.5.1.4.1.1.9.5.1", Document), // Arterial Pulse Waveform
    ("1.2.840.10008.5.1.4.1.1.9.6.1", Document), // Respiratory Waveform
    ("1.2.840.10008.5.1.4.1.1.9.6.2", Document), // Multichannel Respiratory Waveform
    ("1.2.840.10008.5.1.4.1.1.9.7.1", Document), // Routine Scalp Electroencephalogram Waveform
    ("1.2.840.10008.5.1.4.1.1.9.7.2", Document), // Electromyogram Waveform
    ("1.2.840.10008.5.1.4.1.1.9.7.3", Document), // Electrooculogram Waveform
    ("1.2.840.10008.5.1.4.1.1.9.7.4", Document), // Sleep Electroencephalogram Waveform
    ("1.2.840.10008.5.1.4.1.1.9.8.1", Document), // Body Position Waveform
    ("1.2.840.10008.5.1.4.1.1.9.100.1", Document), // Waveform Presentation State
    ("1.2.840.10008.5.1.4.1.1.9.100.2", Document), // Waveform Acquisition Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.1", Document), // Grayscale Softcopy Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.2", Document), // Color Softcopy Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.3", Document), // Pseudo Color Softcopy Presentation Stage
    ("1.2.840.10008.5.1.4.1.1.11.4", Document), // Blending Softcopy Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.5", Document), // XAXRFGrayscale Softcopy Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.6", Document), // Grayscale Planar MPRVolumetric Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.7", Document), // Compositing Planar MPRVolumetric Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.8", Document), // Advanced Blending Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.9", Document), // Volume Rendering Volumetric Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.10", Document), // Segmented Volume Rendering Volumetric Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.11", Document), // Multiple Volume Rendering Volumetric Presentation State
    ("1.2.840.10008.5.1.4.1.1.11.12", Document), // Variable Modality LUTSoftcopy Presentation Stage
    ("1.2.840.10008.5.1.4.1.1.12.1", Image),     // XRay Angiographic Image
    ("1.2.840.10008.5.1.4.1.1.12.1.1", Image),   // Enhanced XAImage
    ("1.2.840.10008.5.1.4.1.1.12.2", Image),     // XRay Radiofluoroscopic Image
    ("1.2.840.10008.5.1.4.1.1.12.2.1", Image),   // Enhanced XRFImage
    ("1.2.840.10008.5.1.4.1.1.13.1.1", Image),   // XRay3 DAngiographic Image
    ("1.2.840.10008.5.1.4.1.1.13.1.2", Image),   // XRay3 DCraniofacial Image
    ("1.2.840.10008.5.1.4.1.1.13.1.3", Image),   // Breast Tomosynthesis Image
    ("1.2.840.10008.5.1.4.1.1.13.1.4", Image), // Breast Projection XRay Image Storage For Presentation
    ("1.2.840.10008.5.1.4.1.1.13.1.5", Image), // Breast Projection XRay Image Storage For Processing
    ("1.2.840.10008.5.1.4.1.1.14.1", Image), // Intravascular Optical Coherence Tomography Image Storage For Presentation
    ("1.2.840.10008.5.1.4.1.1.14.2", Image), // Intravascular Optical Coherence Tomography Image Storage For Processing
    ("1.2.840.10008.5.1.4.1.1.20", Image),   // Nuclear Medicine Image
    ("1.2.840.10008.5.1.4.1.1.30", Image),   // Parametric Map
    ("1.2.840.10008.5.1.4.1.1.66", Document), // Raw Data
    ("1.2.840.10008.5.1.4.1.1.66.1", Document), // Spatial Registration
    ("1.2.840.10008.5.1.4.1.1.66.2", Document), // Spatial Fiducials
    ("1.2.840.10008.5.1.4.1.1.66.3", Document), // Deformable Spatial Registration
    ("1.2.840.10008.5.1.4.1.1.66.4", Image), // Segmentation
    ("1.2.840.10008.5.1.4.1.1.66.5", Document), // Surface Segmentation
    ("1.2.840.10008.5.1.4.1.1.66.6", Document), // Tractography Results
    ("1.2.840.10008.5.1.4.1.1.66.7", Image), // Label Map Segmentation
    ("1.2.840.10008.5.1.4.1.1.66.8", Image), // Height Map Segmentation
    ("1.2.840.10008.5.1.4.1.1.67", Document), // Real World Value Mapping
    ("1.2.840.10008.5.1.4.1.1.68.1", Document), // Surface Scan Mesh
    ("1.2.840.10008.5.1.4.1.1.68.2", Document), // Surface Scan Point Cloud
    ("1.2.840.10008.5.1.4.1.1.77.1.1", Image), // VLEndoscopic Image
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", Image), // Video Endoscopic Image
    ("1.2.840.10008.5.1.4.1.1.77.1.2", Image), // VLMicroscopic Image
    ("1.2.840.10008.5.1.4.1.1.77.1.2.1", Image), // Video Microscopic Image
    ("1.2.840.10008.5.1.4.1.1.77.1.3", Image), // VLSlide Coordinates Microscopic Image
    ("1.2.840.10008.5.1.4.1.1.77.1.4", Image), // VLPhotographic Image
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", Image), // Video Photographic Image
    ("1.2.840.10008.5.1.4.1.1.77.1.5.1", Image), // Ophthalmic Photography8 Bit Image
    ("1.2.840.10008.5.1.4.1.1.77.1.5.2", Image), // Ophthalmic Photography16 Bit Image
    ("1.2.840.10008.5.1.4.1.1.77.1.5.3", Document), // Stereometric Relationship
    ("1.2.840.10008.5.1.4.1.1.77.1.5.4", Image), // Ophthalmic Tomography Image
    ("1.2.840.10008.5.1.4.1.1.77.1.5.5", Image), // Wide Field Ophthalmic Photography Stereographic Projection Image
    ("1.2.840.10008.5.1.4.1.1.77.1.5.6", Image), // Wide Field Ophthalmic Photography3 DCoordinates Image
    ("1.2.840.10008.5.1.4.1.1.77.1.5.7", Image), // Ophthalmic Optical Coherence Tomography En Face Image
    ("1.2.840.10008.5.1.4.1.1.77.1.5.8", Document), // Ophthlamic Optical Coherence Tomography Bscan Volume Analysis
    ("1.2.840.10008.5.1.4.1.1.77.1.6", Image),      // VLWhole Slide Microscopy Image
    ("1.2.840.10008.5.1.4.1.1.77.1.7", Image),      // Dermoscopic Photography Image
    ("1.2.840.10008.5.1.4.1.1.77.1.8", Image),      // Confocal Microscopy Image
    ("1.2.840.10008.5.1.4.1.1.77.1.9", Image),      // Confocal Microscopy Tiled Pyramidal Image
    ("1.2.840.10008.5.1.4.1.1.78.1", Document),     // Lensometry Measurements
    ("1.2.840.10008.5.1.4.1.1.78.2", Document),     // Autorefraction Measurements
    ("1.2.840.10008.5.1.4.1.1.78.3", Document),     // Keratometry Measurements
    ("1.2.840.10008.5.1.4.1.1.78.4", Document),     // Subjective Refraction Measurements
    ("1.2.840.10008.5.1.4.1.1.78.5", Document),     // Visual Acuity Measurements
    ("1.2.840.10008.5.1.4.1.1.78.6", Document),     // Spectacle Prescription Report
    ("1.2.840.10008.5.1.4.1.1.78.7", Document),     // Ophthalmic Axial Measurements
    ("1.2.840.10008.5.1.4.1.1.78.8", Document),     // Intraocular Lens Calculations
    ("1.2.840.10008.5.1.4.1.1.79.1", Document),     // Macular Grid Thickness And Volume Report
    ("1.2.840.10008.5.1.4.1.1.80.1", Document), // Ophthalmic Visual Field Static Perimetry Measurements
    ("1.2.840.10008.5.1.4.1.1.81.1", Image),    // Ophthalmic Thickness Map
    ("1.2.840.10008.5.1.4.1.1.82.1", Image),    // Corneal Topography Map
    ("1.2.840.10008.5.1.4.1.1.88.11", Document), // Basic Text SR
    ("1.2.840.10008.5.1.4.1.1.88.22", Document), // Enhanced SR
    ("1.2.840.10008.5.1.4.1.1.88.33", Document), // Comprehensive SR
    ("1.2.840.10008.5.1.4.1.1.88.34", Document), // Comprehensive3 DSR
    ("1.2.840.10008.5.1.4.1.1.88.35", Document), // Extensible SR
    ("1.2.840.10008.5.1.4.1.1.88.40", Document), // Procedure Log
    ("1.2.840.10008.5.1.4.1.1.88.50", Document), // Mammography CADSR
    ("1.2.840.10008.5.1.4.1.1.88.59", Document), // Key Object Selection Document
    ("1.2.840.10008.5.1.4.1.1.88.65", Document), // Chest CADSR
    ("1.2.840.10008.5.1.4.1.1.88.67", Document), // XRay Radiation Dose SR
    ("1.2.840.10008.5.1.4.1.1.88.68", Document), // Radiopharmaceutical Radiation Dose SR
    ("1.2.840.10008.5.1.4.1.1.88.69", Document), // Colon CADSR
    ("1.2.840.10008.5.1.4.1.1.88.70", Document), // Implantation Plan SR
    ("1.2.840.10008.5.1.4.1.1.88.71", Document), // Acquisition Context SR
    ("1.2.840.10008.5.1.4.1.1.88.72", Document), // Simplified Adult Echo SR
    ("1.2.840.10008.5.1.4.1.1.88.73", Document), // Patient Radiation Dose SR
    ("1.2.840.10008.5.1.4.1.1.88.74", Document), // Planned Imaging Agent Administration SR
    ("1.2.840.10008.5.1.4.1.1.88.75", Document), // Performed Imaging Agent Administration SR
    ("1.2.840.10008.5.1.4.1.1.88.76", Document), // Enhanced XRay Radiation Dose SR
    ("1.2.840.10008.5.1.4.1.1.88.77", Document), // Waveform Annotation SR
    ("1.2.840.10008.5.1.4.1.1.90.1", Document), // Content Assessment Results
    ("1.2.840.10008.5.1.4.1.1.91.1", Document), // Microscopy Bulk Simple Annotations
    ("1.2.840.10008.5.1.4.1.1.104.1", Document), // Encapsulated PDF
    ("1.2.840.10008.5.1.4.1.1.104.2", Document), // Encapsulated CDA
    ("1.2.840.10008.5.1.4.1.1.104.3", Document), // Encapsulated STL
    ("1.2.840.10008.5.1.4.1.1.104.4", Document), // Encapsulated OBJ
    ("1.2.840.10008.5.1.4.1.1.104.5", Document), // Encapsulated MTL
    ("1.2.840.10008.5.1.4.1.1.128", Image),     // Positron Emission Tomography Image
    ("1.2.840.10008.5.1.4.1.1.128.1", Image),   // Legacy Converted Enhanced PETImage
    ("1.2.840.10008.5.1.4.1.1.130", Image),     // Enhanced PETImage
    ("1.2.840.10008.5.1.4.1.1.131", Document),  // Basic Structured Display
    ("1.2.840.10008.5.1.4.1.1.200.2", Document), // CTPerformed Procedure Protocol
    ("1.2.840.10008.5.1.4.1.1.200.8", Document), // XAPerformed Procedure Protocol
    ("1.2.840.10008.5.1.4.1.1.481.1", Image),   // RTImage
    ("1.2.840.10008.5.1.4.1.1.481.2", Image),   // RTDose
    ("1.2.840.10008.5.1.4.1.1.481.3", Document), // RTStructure Set
    ("1.2.840.10008.5.1.4.1.1.481.4", Document), // RTBeams Treatment Record
    ("1.2.840.10008.5.1.4.1.1.481.5", Document), // RTPlan
    ("1.2.840.10008.5.1.4.1.1.481.6", Document), // RTBrachy Treatment Record
    ("1.2.840.10008.5.1.4.1.1.481.7", Document), // RTTreatment Summary Record
    ("1.2.840.10008.5.1.4.1.1.481.8", Document), // RTIon Plan
    ("1.2.840.10008.5.1.4.1.1.481.9", Document), // RTIon Beams Treatment Record
    ("1.2.840.10008.5.1.4.1.1.481.10", Document), // RTPhysician Intent
    ("1.2.840.10008.5.1.4.1.1.481.11", Document), // RTSegment Annotation
    ("1.2.840.10008.5.1.4.1.1.481.12", Document), // RTRadiation Set
    ("1.2.840.10008.5.1.4.1.1.481.13", Document), // CArm Photon Electron Radiation
    ("1.2.840.10008.5.1.4.1.1.481.14", Document), // Tomotherapeutic Radiation
    ("1.2.840.10008.5.1.4.1.1.481.15", Document), // Robotic Arm Radiation
    ("1.2.840.10008.5.1.4.1.1.481.16", Document), // RTRadiation Record Set
    ("1.2.840.10008.5.1.4.1.1.481.17", Document), // RTRadiation Salvage Record
    ("1.2.840.10008.5.1.4.1.1.481.18", Document), // Tomotherapeutic Radiation Record
    ("1.2.840.10008.5.1.4.1.1.481.19", Document), // CArm Photon Electron Radiation Record
    ("1.2.840.10008.5.1.4.1.1.481.20", Document), // Robotic Arm Radiation Record
    ("1.2.840.10008.5.1.4.1.1.481.21", Document), // RTRadiation Set Delivery Instruction
    ("1.2.840.10008.5.1.4.1.1.481.22", Document), // RTTreatment Preparation
    ("1.2.840.10008.5.1.4.1.1.481.23", Image),  // Enhanced RTImage
    ("1.2.840.10008.5.1.4.1.1.481.24", Image),  // Enhanced Continuous RTImage
    ("1.2.840.10008.5.1.4.1.1.481.25", Document), // RTPatient Position Acquisition Instruction
    ("1.2.840.10008.5.1.4.34.7", Document),     // RTBeams Delivery Instruction
    ("1.2.840.10008.5.1.4.34.10", Document),    // RTBrachy Application Setup Delivery Instructions
    // Retired, still held by older archives.
    ("1.2.840.10008.5.1.4.1.1.3", Image), // Ultrasound Multi-frame (retired)
    ("1.2.840.10008.5.1.4.1.1.5", Image), // Nuclear Medicine (retired)
    ("1.2.840.10008.5.1.4.1.1.6", Image), // Ultrasound (retired)
    ("1.2.840.10008.5.1.4.1.1.12.3", Image), // X-Ray Angiographic Bi-Plane (retired)
    ("1.2.840.10008.5.1.4.1.1.77.1", Image), // VL Image (retired)
    ("1.2.840.10008.5.1.4.1.1.77.2", Image), // VL Multi-frame Image (retired)
    ("1.2.840.10008.5.1.4.1.1.8", Document), // Standalone Overlay (retired)
    ("1.2.840.10008.5.1.4.1.1.9", Document), // Standalone Curve (retired)
    ("1.2.840.10008.5.1.4.1.1.10", Document), // Standalone Modality LUT (retired)
    ("1.2.840.10008.5.1.4.1.1.11", Document), // Standalone VOI LUT (retired)
    ("1.2.840.10008.5.1.4.1.1.129", Document), // Standalone PET Curve (retired)
    // Storage classes outside the storage root.
    ("1.2.840.10008.5.1.4.38.1", Document), // Hanging Protocol
    ("1.2.840.10008.5.1.4.39.1", Document), // Color Palette
    ("1.2.840.10008.5.1.4.43.1", Document), // Generic Implant Template
    ("1.2.840.10008.5.1.4.44.1", Document), // Implant Assembly Template
    ("1.2.840.10008.5.1.4.45.1", Document), // Implant Template Group
];

/// A storage SOP class: any class of [`STORAGE_CLASSES`] or under [`STORAGE_ROOT`] (so classes
/// added to the standard after this list are still received).
pub fn is_storage_class(uid: &str) -> bool {
    uid.strip_prefix(STORAGE_ROOT).is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    }) || STORAGE_CLASSES.iter().any(|(c, _)| *c == uid)
}

/// The kind of a storage class; a class miic does not know is assumed to carry pixels (so it
/// is offered the compressed syntaxes too).
pub fn kind_of(uid: &str) -> Kind {
    STORAGE_CLASSES
        .iter()
        .find(|(c, _)| *c == uid)
        .map_or(Image, |(_, k)| *k)
}

/// Uncompressed syntaxes, each proposed on its own presentation context by C-GET so that a PACS
/// which picks the context matching what it holds (Orthanc) need not convert.
pub const UNCOMPRESSED: &[&str] = &[EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE];

/// The compressed syntaxes hospital archives hold, proposed by C-GET for every image class.
pub const COMPRESSED: &[&str] = &[
    "1.2.840.10008.1.2.4.70", // JPEG lossless, first-order prediction (SV1)
    "1.2.840.10008.1.2.4.57", // JPEG lossless
    "1.2.840.10008.1.2.4.50", // JPEG baseline
    "1.2.840.10008.1.2.4.51", // JPEG extended
    "1.2.840.10008.1.2.4.80", // JPEG-LS lossless
    "1.2.840.10008.1.2.4.81", // JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90", // JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91", // JPEG 2000
    "1.2.840.10008.1.2.5",    // RLE lossless
];

/// Rarer syntaxes: accepted from a C-MOVE whenever the PACS offers them; proposed by C-GET
/// only while the association has room left (see [`syntaxes_for`]).
pub const RARE: &[&str] = &[
    "1.2.840.10008.1.2.4.201", // HTJ2K lossless
    "1.2.840.10008.1.2.4.202", // HTJ2K RPCL lossless
    "1.2.840.10008.1.2.4.203", // HTJ2K
    "1.2.840.10008.1.2.4.92",  // JPEG 2000 part 2 lossless
    "1.2.840.10008.1.2.4.93",  // JPEG 2000 part 2
    "1.2.840.10008.1.2.4.110", // JPEG XL lossless
    "1.2.840.10008.1.2.4.111", // JPEG XL recompression
    "1.2.840.10008.1.2.4.112", // JPEG XL
    "1.2.840.10008.1.2.8.1",   // deflated image frame compression
    "1.2.840.10008.1.2.1.98",  // encapsulated uncompressed explicit VR LE
    "1.2.840.10008.1.2.4.100", // MPEG2 main profile / main level
    "1.2.840.10008.1.2.4.101", // MPEG2 main profile / high level
    "1.2.840.10008.1.2.4.102", // MPEG-4 AVC/H.264 high profile 4.1
    "1.2.840.10008.1.2.4.103", // MPEG-4 AVC/H.264 BD-compatible
    "1.2.840.10008.1.2.4.104", // MPEG-4 AVC/H.264 2D video
    "1.2.840.10008.1.2.4.105", // MPEG-4 AVC/H.264 3D video
    "1.2.840.10008.1.2.4.106", // MPEG-4 AVC/H.264 stereo
    "1.2.840.10008.1.2.4.107", // HEVC/H.265 main profile
    "1.2.840.10008.1.2.4.108", // HEVC/H.265 main 10 profile
    "1.2.840.10008.1.2.4.94",  // JPIP referenced
    "1.2.840.10008.1.2.4.95",  // JPIP referenced deflate
];

/// Every transfer syntax miic files as bytes: the C-MOVE storage SCP accepts, for each context
/// the PACS offers, the first of the PACS's syntaxes that is in this list.
pub fn storable_syntaxes() -> Vec<&'static str> {
    let mut all = UNCOMPRESSED.to_vec();
    all.push(DEFLATED_LE);
    all.extend_from_slice(COMPRESSED);
    all.extend_from_slice(RARE);
    all
}

/// Whether `ts` is a syntax the storage SCP accepts.
pub fn is_storable(ts: &str) -> bool {
    storable_syntaxes().contains(&ts)
}

/// The syntaxes C-GET proposes for a class, each on its own presentation context: the
/// uncompressed ones and deflate for every class, the compressed ones for image classes.
/// The rare ones are added by the planner only while contexts remain.
pub fn syntaxes_for(class: &str) -> Vec<&'static str> {
    let mut out = UNCOMPRESSED.to_vec();
    out.push(DEFLATED_LE);
    if kind_of(class) == Image {
        out.extend_from_slice(COMPRESSED);
    }
    out
}

/// The storage classes a series of `modality` holds in practice (PS3.3 C.7.3.1.1.1), for a
/// PACS whose C-FIND names no SOP class (dcmtk's dcmqrscp). An unknown modality gets the
/// common image classes.
pub fn classes_for_modality(modality: &str) -> &'static [&'static str] {
    macro_rules! classes {
        ($($suffix:literal),+) => { &[$(concat!("1.2.840.10008.5.1.4.1.1.", $suffix)),+] };
    }
    match modality.trim() {
        "CT" => classes!("2", "2.1", "2.2"),
        "MR" => classes!("4", "4.1", "4.3", "4.4", "4.2"),
        "CR" => classes!("1"),
        "DX" => classes!("1.1", "1.1.1"),
        "MG" => classes!("1.2", "1.2.1", "13.1.3", "13.1.4", "13.1.5"),
        "IO" => classes!("1.3", "1.3.1"),
        "US" => classes!("6.1", "3.1", "6.2"),
        "OT" | "SC" => classes!("7", "7.1", "7.2", "7.3", "7.4"),
        "XA" => classes!("12.1", "12.1.1", "13.1.1"),
        "RF" => classes!("12.2", "12.2.1"),
        "NM" => classes!("20"),
        "PT" => classes!("128", "128.1", "130"),
        "ES" | "XC" | "GM" | "SM" => {
            classes!("77.1.1", "77.1.1.1", "77.1.2", "77.1.4", "77.1.4.1", "77.1.6")
        }
        "OP" => classes!("77.1.5.1", "77.1.5.2", "77.1.5.4"),
        "SEG" => classes!("66.4", "66.7"),
        "RTIMAGE" => classes!("481.1", "481.23", "481.24"),
        "RTDOSE" => classes!("481.2"),
        "RTSTRUCT" => classes!("481.3"),
        "RTPLAN" => classes!("481.5", "481.8"),
        "RTRECORD" => classes!("481.4", "481.6", "481.7", "481.9"),
        "REG" => classes!("66.1", "66.3"),
        "FID" => classes!("66.2"),
        "SR" => classes!(
            "88.11", "88.22", "88.33", "88.34", "88.35", "88.67", "88.68", "88.73", "88.76",
            "88.40", "88.50", "88.65", "88.69", "88.71", "88.72"
        ),
        "KO" => classes!("88.59"),
        "PR" => classes!("11.1", "11.2", "11.3", "11.4", "11.5"),
        "DOC" => classes!("104.1", "104.2", "104.3", "104.4", "104.5"),
        "ECG" | "HD" | "EPS" | "RESP" | "AU" => {
            classes!("9.1.1", "9.1.2", "9.1.3", "9.2.1", "9.3.1", "9.4.1")
        }
        _ => DEFAULT_CLASSES,
    }
}

/// The classes C-GET proposes (one context each, every syntax offered, the PACS picks) when the
/// PACS tells nothing about the study's content.
pub const DEFAULT_CLASSES: &[&str] = &[
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.5.1.4.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.4",
    "1.2.840.10008.5.1.4.1.1.4.1",
    "1.2.840.10008.5.1.4.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.2",
    "1.2.840.10008.5.1.4.1.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.1.3",
    "1.2.840.10008.5.1.4.1.1.6.1",
    "1.2.840.10008.5.1.4.1.1.3.1",
    "1.2.840.10008.5.1.4.1.1.7",
    "1.2.840.10008.5.1.4.1.1.7.2",
    "1.2.840.10008.5.1.4.1.1.7.3",
    "1.2.840.10008.5.1.4.1.1.7.4",
    "1.2.840.10008.5.1.4.1.1.12.1",
    "1.2.840.10008.5.1.4.1.1.12.2",
    "1.2.840.10008.5.1.4.1.1.20",
    "1.2.840.10008.5.1.4.1.1.128",
    "1.2.840.10008.5.1.4.1.1.481.1",
    "1.2.840.10008.5.1.4.1.1.77.1.1",
    "1.2.840.10008.5.1.4.1.1.77.1.4",
    "1.2.840.10008.5.1.4.1.1.13.1.3",
    "1.2.840.10008.5.1.4.1.1.88.11",
    "1.2.840.10008.5.1.4.1.1.88.22",
    "1.2.840.10008.5.1.4.1.1.88.33",
    "1.2.840.10008.5.1.4.1.1.88.59",
    "1.2.840.10008.5.1.4.1.1.88.67",
    "1.2.840.10008.5.1.4.1.1.11.1",
    "1.2.840.10008.5.1.4.1.1.104.1",
    "1.2.840.10008.5.1.4.1.1.66",
];

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_encoding::TransferSyntaxIndex;
    use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

    #[test]
    fn every_storable_syntax_is_readable_by_dicom_object() {
        // inspect_part10 parses each landed file; a syntax dicom-rs cannot read would land
        // files miic then refuses.
        for ts in storable_syntaxes() {
            let entry = TransferSyntaxRegistry.get(ts);
            assert!(entry.is_some_and(|t| !t.is_unsupported()), "{ts}");
        }
    }

    #[test]
    fn storage_classes_include_key_objects_dose_reports_and_later_classes() {
        for uid in [
            "1.2.840.10008.5.1.4.1.1.88.59",
            "1.2.840.10008.5.1.4.1.1.88.67",
            "1.2.840.10008.5.1.4.1.1.104.2",
            "1.2.840.10008.5.1.4.1.1.66.4",
            "1.2.840.10008.5.1.4.1.1.481.5",
            "1.2.840.10008.5.1.4.34.7",
            "1.2.840.10008.5.1.4.1.1.999.1",
        ] {
            assert!(is_storage_class(uid), "{uid}");
        }
        for uid in [
            "1.2.840.10008.5.1.4.1.2.2.3",
            "1.2.840.10008.1.1",
            "1.2.840.10008.5.1.4.1.1.",
        ] {
            assert!(!is_storage_class(uid), "{uid}");
        }
        assert_eq!(kind_of("1.2.840.10008.5.1.4.1.1.88.59"), Document);
        assert_eq!(kind_of("1.2.840.10008.5.1.4.1.1.2"), Image);
        assert_eq!(kind_of("1.2.840.10008.5.1.4.1.1.999.1"), Image);
    }

    #[test]
    fn storage_list_has_no_duplicates_and_only_storage_uids() {
        let mut seen = std::collections::HashSet::new();
        for (uid, _) in STORAGE_CLASSES {
            assert!(seen.insert(uid), "duplicate {uid}");
        }
        for m in ["CT", "SR", "KO", "XYZ"] {
            assert!(
                classes_for_modality(m).iter().all(|c| is_storage_class(c)),
                "{m}"
            );
        }
    }
}
