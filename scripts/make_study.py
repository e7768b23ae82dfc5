#!/usr/bin/env python3
"""Generate a test study as a hospital PACS holds one, for the DICOM tests and benches.

  make_study.py OUT_DIR STUDY_UID [realistic|many-classes]

realistic (default): 38 objects in 15 series — CT in explicit/implicit/big-endian and JPEG
lossless, MR in JPEG-LS (lossless and near-lossless), JPEG baseline, RLE, multi-frame XA (JPEG
baseline) and US, Basic / Enhanced (deflated)
/ Comprehensive SR, X-Ray Radiation Dose SR, GSPS, Key Object Selection, encapsulated PDF;
patient name in Chinese, some objects in UTF-8 (ISO_IR 192), others in GB18030. About 3 MB.

many-classes: one small image in each of 12 image storage classes (one series each), so that
proposing every class with its transfer syntaxes needs more than 128 presentation contexts.

Objects are written by pydicom (explicit VR little endian), then converted by dcmtk's dcmconv,
dcmcjpeg, dcmcjpls and dcmcrle. Prints a JSON index (one entry per object: file, SOP class and
instance UID, series UID, transfer syntax, kind) and writes it to OUT_DIR/index.json.
"""

import array
import functools
import json
import os
import random
import subprocess
import sys

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
CR = "1.2.840.10008.5.1.4.1.1.1"
SC = "1.2.840.10008.5.1.4.1.1.7"
XA = "1.2.840.10008.5.1.4.1.1.12.1"
US_MF = "1.2.840.10008.5.1.4.1.1.3.1"
BASIC_SR = "1.2.840.10008.5.1.4.1.1.88.11"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
KO = "1.2.840.10008.5.1.4.1.1.88.59"
DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
GSPS = "1.2.840.10008.5.1.4.1.1.11.1"
PDF = "1.2.840.10008.5.1.4.1.1.104.1"

# The twelve image classes of the many-classes study (modality, SOP class).
MANY = [
    ("CT", CT), ("MR", MR), ("CR", CR),
    ("DX", "1.2.840.10008.5.1.4.1.1.1.1"), ("MG", "1.2.840.10008.5.1.4.1.1.1.2"),
    ("US", "1.2.840.10008.5.1.4.1.1.6.1"), ("OT", SC), ("XA", XA),
    ("RF", "1.2.840.10008.5.1.4.1.1.12.2"), ("NM", "1.2.840.10008.5.1.4.1.1.20"),
    ("PT", "1.2.840.10008.5.1.4.1.1.128"), ("RTIMAGE", "1.2.840.10008.5.1.4.1.1.481.1"),
]

PATIENT = "王小明"  # encoded per object: GB18030 or UTF-8
CHARSETS = {"gb18030": "GB18030", "utf-8": "ISO_IR 192"}


class Study:
    def __init__(self, out, uid):
        self.out = out
        self.uid = uid
        self.series = 0
        self.index = []
        self.rng = random.Random(uid)

    def base(self, sop_class, modality, series, number, charset):
        ds = Dataset()
        ds.SpecificCharacterSet = CHARSETS[charset]
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = f"{series['uid']}.{number}"
        ds.StudyDate = "20251126"
        ds.StudyTime = "093000"
        ds.ContentDate = "20251126"
        ds.ContentTime = "093500"
        ds.AccessionNumber = "ACC12"
        ds.Modality = modality
        ds.Manufacturer = "miic tests"
        ds.ReferringPhysicianName = ""
        ds.PatientName = PATIENT
        ds.PatientID = "P12"
        ds.PatientBirthDate = "19800101"
        ds.PatientSex = "M"
        ds.StudyInstanceUID = self.uid
        ds.SeriesInstanceUID = series["uid"]
        ds.StudyID = "1"
        ds.SeriesNumber = series["number"]
        ds.InstanceNumber = number
        ds.StudyDescription = "胸部CT平扫"
        ds.SeriesDescription = series["description"]
        return ds

    def new_series(self, description):
        self.series += 1
        return {"uid": f"{self.uid}.{self.series}", "number": self.series,
                "description": description}

    def pixels(self, ds, rows, cols, bits, frames=1, samples=1):
        ds.SamplesPerPixel = samples
        ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
        if samples == 3:
            ds.PlanarConfiguration = 0
        ds.Rows = rows
        ds.Columns = cols
        ds.BitsAllocated = 16 if bits > 8 else 8
        ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = 0
        if frames > 1:
            ds.NumberOfFrames = frames
        top = (1 << bits) - 1
        blob = body(rows, cols, top)
        seed = self.rng.randrange(1 << 16)
        noise = [((k * 7 + seed) % 17) * top // 400 for k in range(97)]
        out = bytearray()
        for f in range(frames):
            # A smooth body-like blob plus a little noise: compresses like an image.
            values = [min(top, v + noise[(k + f * 13) % 97]) for k, v in enumerate(blob)]
            if samples == 3:
                values = [v for v in values for _ in range(3)]
            if ds.BitsAllocated == 16:
                words = array.array("H", values)
                if sys.byteorder == "big":
                    words.byteswap()
                out += words.tobytes()
            else:
                out += bytes(values)
        ds.PixelData = bytes(out)
        # pydicom picks OB/OW from Bits Allocated when writing explicit VR.
        ds["PixelData"].VR = "OW" if ds.BitsAllocated == 16 else "OB"

    def write(self, ds, name, kind, convert=None):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        path = os.path.join(self.out, name)
        raw = path + ".raw"
        ds.save_as(raw if convert else path, enforce_file_format=True)
        if convert:
            subprocess.run(convert + [raw, path], check=True)
            os.remove(raw)
        self.index.append({"file": name, "kind": kind, "sop_class_uid": str(ds.SOPClassUID),
                           "sop_instance_uid": str(ds.SOPInstanceUID),
                           "series_instance_uid": str(ds.SeriesInstanceUID),
                           "transfer_syntax": transfer_syntax_of(path)})


@functools.lru_cache(maxsize=None)
def body(rows, cols, top):
    out = []
    for y in range(rows):
        for x in range(cols):
            dx, dy = x - cols / 2, y - rows / 2
            out.append(int(top * 0.7 * max(0.0, 1 - (dx * dx + dy * dy) / (rows * cols / 3))))
    return out


def transfer_syntax_of(path):
    from pydicom import dcmread
    return str(dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)


def code(value, scheme, meaning):
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def text_item(relation, concept, text):
    item = Dataset()
    item.RelationshipType = relation
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = Sequence([concept])
    item.TextValue = text
    return item


def sr_document(ds, title, items, template=None):
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([title])
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ContentSequence = Sequence(items)
    if template:
        tpl = Dataset()
        tpl.MappingResource = "DCMR"
        tpl.TemplateIdentifier = template
        ds.ContentTemplateSequence = Sequence([tpl])
    ds.ReferencedPerformedProcedureStepSequence = Sequence([])
    ds.PerformedProcedureCodeSequence = Sequence([])


def evidence(study_uid, refs):
    """CurrentRequestedProcedureEvidenceSequence / ReferencedSeriesSequence items."""
    by_series = {}
    for r in refs:
        by_series.setdefault(r["series_instance_uid"], []).append(r)
    series_items = []
    for series_uid, objs in by_series.items():
        s = Dataset()
        s.SeriesInstanceUID = series_uid
        s.ReferencedSOPSequence = Sequence([sop_ref(o) for o in objs])
        series_items.append(s)
    study = Dataset()
    study.StudyInstanceUID = study_uid
    study.ReferencedSeriesSequence = Sequence(series_items)
    return study, series_items


def sop_ref(o):
    r = Dataset()
    r.ReferencedSOPClassUID = o["sop_class_uid"]
    r.ReferencedSOPInstanceUID = o["sop_instance_uid"]
    return r


def realistic(st):
    conv = {
        "ile": ["dcmconv", "+ti"],
        "ebe": ["dcmconv", "+tb"],
        "deflate": ["dcmconv", "+td"],
        "jpeg-sv1": ["dcmcjpeg", "+e1"],
        "jpeg-baseline": ["dcmcjpeg", "+eb", "+un"],
        "jls-lossless": ["dcmcjpls", "+el"],
        "jls-near": ["dcmcjpls", "+en", "+un"],
        "rle": ["dcmcrle"],
    }
    images = []

    def image_series(description, sop_class, modality, count, rows, bits, charset, how,
                     kind, frames=1):
        series = st.new_series(description)
        for i in range(1, count + 1):
            ds = st.base(sop_class, modality, series, i, charset)
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            if modality == "CT":
                ds.RescaleIntercept = "-1024"
                ds.RescaleSlope = "1"
                ds.KVP = "120"
            st.pixels(ds, rows, rows, bits, frames=frames)
            step = how(i) if callable(how) else how
            st.write(ds, f"s{series['number']:02d}_{i:02d}.dcm", kind(i) if callable(kind) else kind,
                     conv.get(step))
            images.append(st.index[-1])
        return series

    image_series("定位像", CT, "CT", 1, 256, 12, "gb18030", None, "CT explicit VR LE")
    image_series("CT explicit", CT, "CT", 4, 256, 12, "gb18030", None, "CT explicit VR LE")
    image_series("CT implicit", CT, "CT", 4, 256, 12, "gb18030", "ile", "CT implicit VR LE")
    image_series("CT big endian", CT, "CT", 3, 256, 12, "gb18030", "ebe", "CT explicit VR BE")
    image_series("CT JPEG lossless", CT, "CT", 5, 256, 12, "utf-8", "jpeg-sv1",
                 "CT JPEG lossless SV1")
    image_series("MR JPEG-LS", MR, "MR", 5, 256, 12, "utf-8",
                 lambda i: "jls-near" if i == 5 else "jls-lossless",
                 lambda i: "MR JPEG-LS near-lossless" if i == 5 else "MR JPEG-LS lossless")
    image_series("SC JPEG baseline", SC, "OT", 3, 256, 8, "utf-8", "jpeg-baseline",
                 "SC JPEG baseline")
    image_series("CR RLE", CR, "CR", 3, 256, 12, "gb18030", "rle", "CR RLE lossless")
    image_series("XA multi-frame", XA, "XA", 1, 128, 8, "utf-8", "jpeg-baseline",
                 "XA multi-frame JPEG baseline", frames=6)
    image_series("US multi-frame", US_MF, "US", 1, 128, 8, "gb18030", None,
                 "US multi-frame explicit VR LE", frames=5)
    ct = [o for o in images if o["sop_class_uid"] == CT]

    # Reports: Basic Text SR (UTF-8), Enhanced SR (deflated, GB18030), Comprehensive SR.
    series = st.new_series("报告")
    finding = code("121071", "DCM", "Finding")
    for n, (cls, charset, how, kind, tpl) in enumerate([
        (BASIC_SR, "utf-8", None, "Basic Text SR", None),
        (ENHANCED_SR, "gb18030", "deflate", "Enhanced SR deflated", None),
        (COMPREHENSIVE_SR, "utf-8", None, "Comprehensive SR", "2000"),
    ], start=1):
        ds = st.base(cls, "SR", series, n, charset)
        sr_document(ds, code("18748-4", "LN", "Diagnostic Imaging Report"),
                    [text_item("CONTAINS", finding, "右肺上叶见一结节，直径约8毫米。"),
                     text_item("CONTAINS", code("121072", "DCM", "Impression"), "考虑良性，建议随访。")],
                    tpl)
        study_ref, _ = evidence(st.uid, ct[:2])
        ds.CurrentRequestedProcedureEvidenceSequence = Sequence([study_ref])
        st.write(ds, f"s{series['number']:02d}_{n:02d}.dcm", kind, conv.get(how))

    series = st.new_series("Dose")
    ds = st.base(DOSE_SR, "SR", series, 1, "utf-8")
    dose = Dataset()
    dose.RelationshipType = "CONTAINS"
    dose.ValueType = "NUM"
    dose.ConceptNameCodeSequence = Sequence([code("113813", "DCM", "CT Dose Length Product Total")])
    mv = Dataset()
    mv.NumericValue = "412.5"
    mv.MeasurementUnitsCodeSequence = Sequence([code("mGy.cm", "UCUM", "mGy.cm")])
    dose.MeasuredValueSequence = Sequence([mv])
    sr_document(ds, code("113701", "DCM", "X-Ray Radiation Dose Report"), [dose], "10011")
    st.write(ds, f"s{series['number']:02d}_01.dcm", "X-Ray Radiation Dose SR")

    series = st.new_series("GSPS")
    for n, target in enumerate([ct[0], ct[5]], start=1):
        ds = st.base(GSPS, "PR", series, n, "gb18030")
        ds.ContentLabel = "GSPS"
        ds.ContentDescription = "窗宽窗位"
        ds.ContentCreatorName = PATIENT
        ds.PresentationCreationDate = "20251126"
        ds.PresentationCreationTime = "094000"
        _, series_items = evidence(st.uid, [target])
        ds.ReferencedSeriesSequence = Sequence(series_items)
        voi = Dataset()
        voi.WindowCenter = "40"
        voi.WindowWidth = "400"
        ds.SoftcopyVOILUTSequence = Sequence([voi])
        ds.PresentationLUTShape = "IDENTITY"
        st.write(ds, f"s{series['number']:02d}_{n:02d}.dcm", "Grayscale Softcopy Presentation State")

    series = st.new_series("Key images")
    ds = st.base(KO, "KO", series, 1, "utf-8")
    items = []
    for o in ct[:3]:
        item = Dataset()
        item.RelationshipType = "CONTAINS"
        item.ValueType = "IMAGE"
        item.ReferencedSOPSequence = Sequence([sop_ref(o)])
        items.append(item)
    sr_document(ds, code("113000", "DCM", "Of Interest"), items, "2010")
    study_ref, _ = evidence(st.uid, ct[:3])
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([study_ref])
    st.write(ds, f"s{series['number']:02d}_01.dcm", "Key Object Selection")

    series = st.new_series("申请单")
    ds = st.base(PDF, "DOC", series, 1, "gb18030")
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "检查申请单"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.ConceptNameCodeSequence = Sequence([])
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
           b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
           b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n")
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    st.write(ds, f"s{series['number']:02d}_01.dcm", "Encapsulated PDF")


def many_classes(st):
    for modality, sop_class in MANY:
        series = st.new_series(f"{modality} image")
        ds = st.base(sop_class, modality, series, 1, "utf-8")
        st.pixels(ds, 16, 16, 12)
        st.write(ds, f"{modality.lower()}.dcm", f"{modality} image")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    out, uid = sys.argv[1], sys.argv[2]
    which = sys.argv[3] if len(sys.argv) == 4 else "realistic"
    os.makedirs(out, exist_ok=True)
    st = Study(out, uid)
    {"realistic": realistic, "many-classes": many_classes}[which](st)
    text = json.dumps(st.index, ensure_ascii=False, indent=1)
    with open(os.path.join(out, "index.json"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
